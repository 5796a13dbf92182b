"""Named API keys (api.keys): one per client, recorded with each quote, rotated by rewriting
the keys file while the service runs."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.keys import DEFAULT_NAME, KeyFileError, KeyRing, parse
from tests.api.conftest import CAR, Champion, api_env

DASHBOARD, PARTNER, NEW_PARTNER = "dash-key-0a1b2c3d", "partner-key-4e5f", "partner-key-rotated"


def write(path: Path, keys: dict[str, str]) -> None:
    """Replace the file the way the docs say (write, then rename over), bumping its mtime."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(keys))
    stamp = path.stat().st_mtime_ns + 1_000_000 if path.exists() else None
    tmp.replace(path)
    if stamp:
        os.utime(path, ns=(stamp, stamp))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "is not JSON"),
        ('["a"]', "must be a JSON object"),
        ('{"a": "short"}', r"8\+ characters"),
        ('{"a": 12345678}', r"8\+ characters"),
        ('{"a": "same-key-123", "b": "same-key-123"}', "repeats another name's key"),
    ],
)
def test_a_bad_keys_file_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(KeyFileError, match=message):
        parse(text, "keys.json")


def test_keys_match_by_name_and_rotate(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "keys.json"
    write(path, {"dashboard": DASHBOARD, "partner": PARTNER})
    ring = KeyRing("env-key-12345678", path)
    ring._refresh(strict=True)
    assert ring.configured
    assert ring.match(DASHBOARD) == "dashboard" and ring.match(PARTNER) == "partner"
    assert ring.match("env-key-12345678") == DEFAULT_NAME
    assert ring.match("nope") is None and ring.match(None) is None
    write(path, {"dashboard": DASHBOARD, "partner": NEW_PARTNER})
    assert ring.match(PARTNER) is None and ring.match(NEW_PARTNER) == "partner"
    # A broken rewrite keeps the keys in force and says why.
    with caplog.at_level(logging.ERROR, logger="api.keys"):
        path.write_text("{broken")
        os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
        assert ring.match(NEW_PARTNER) == "partner"
    assert "is not JSON" in caplog.text and "keeping the 2 keys" in caplog.text


def test_no_keys_means_open() -> None:
    ring = KeyRing(None, None)
    assert not ring.configured and ring.names() == {}


@pytest.fixture(scope="module")
def keyed(champion: Champion, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """(client, quote log, keys file) of an in-process API with two named keys."""
    from fastapi.testclient import TestClient

    from api.main import create_app

    base = tmp_path_factory.mktemp("keys")
    keys_file = base / "keys.json"
    write(keys_file, {"dashboard": DASHBOARD, "partner": PARTNER})
    env = {
        "CARPRICE_API_KEYS_FILE": str(keys_file),
        "CARPRICE_DATABASE_URL": f"sqlite:///{base / 'carprice.db'}",
        "CARPRICE_QUOTE_SPOOL_DIR": str(base / "spool"),
        "CARPRICE_QUOTE_FLUSH_SECONDS": "0.1",
    }
    with api_env(champion.url, **env), TestClient(create_app()) as client:
        yield client, client.app.state.quote_log, keys_file


def _logged_key(quote_log, quote_id: str) -> str | None:  # noqa: ANN001
    assert quote_log.writer.flush(10)
    return quote_log.store.get_quote(quote_id)["api_key_name"]


def test_each_quote_records_the_key_that_asked(keyed) -> None:  # noqa: ANN001
    client, quote_log, _ = keyed
    for key, name in ((DASHBOARD, "dashboard"), (PARTNER, "partner")):
        answer = client.post("/predict", json=CAR, headers={"X-API-Key": key})
        assert answer.status_code == 200, answer.text
        assert _logged_key(quote_log, answer.json()["quote_id"]) == name
    assert client.post("/predict", json=CAR, headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.get("/monitoring/summary").status_code == 401
    assert client.get("/monitoring/summary", headers={"X-API-Key": PARTNER}).status_code == 200
    doc = client.get("/openapi.json").json()
    assert "APIKeyHeader" in doc["components"]["securitySchemes"]


def test_a_key_is_rotated_without_a_restart(keyed) -> None:  # noqa: ANN001
    client, quote_log, keys_file = keyed
    write(keys_file, {"dashboard": DASHBOARD, "partner": NEW_PARTNER})
    assert client.post("/predict", json=CAR, headers={"X-API-Key": PARTNER}).status_code == 401
    answer = client.post("/predict", json=CAR, headers={"X-API-Key": NEW_PARTNER})
    assert answer.status_code == 200
    assert _logged_key(quote_log, answer.json()["quote_id"]) == "partner"
    # The dashboard's key was untouched throughout.
    assert client.post("/predict", json=CAR, headers={"X-API-Key": DASHBOARD}).status_code == 200
