"""Access and secrets against a real API process started with CARPRICE_API_KEY set.

* Every pricing endpoint (every POST the live OpenAPI lists) refuses a request without the
  right key with a 401 and a JSON reason, before it looks at the body; the read-only GET
  endpoints stay open, as the README says ("`/`, `/health`, `/model/*` and `/metrics` stay
  open"). Without a key configured, pricing is open.
* No credential the process holds (API key, MLflow password, S3 secret) appears in any answer
  (bodies and headers of every GET endpoint and of the error answers) or in its log file.
"""

from __future__ import annotations

import socket
from datetime import date
from urllib.parse import urlsplit

import httpx
import pytest

from tests.plugins.api_stack import CAR, REPO, ApiServer, KeyedApiServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

CSV = (REPO / "data_samples" / "quote_cars.csv").read_bytes()
PRICING = {
    "/predict": {"json": CAR},
    "/predict/batch": {"json": [CAR, {**CAR, "brand": "Tesla"}]},
    "/predict/csv": {"files": {"file": ("cars.csv", CSV, "text/csv")}},
}
INVALID = {
    "/predict": {"json": {"brand": 1}},
    "/predict/batch": {"content": b"not json", "headers": {"content-type": "application/json"}},
    "/predict/csv": {"files": {"file": ("x.bin", b"\xff\xfe\x00garbage", "text/csv")}},
}


def openapi_paths(base: str) -> dict[str, dict]:
    return httpx.get(base + "/openapi.json", timeout=10).json()["paths"]


def post(base: str, path: str, auth: dict[str, str] | None = None, **kwargs) -> httpx.Response:  # noqa: ANN003
    """POST with the `auth` headers on top of the body's own (content-type)."""
    headers = {**kwargs.pop("headers", {}), **(auth or {})}
    return httpx.post(base + path, headers=headers, timeout=30, **kwargs)


def assert_refused(resp: httpx.Response, what: str) -> None:
    assert resp.status_code == 401, f"{what}: {resp.status_code} {resp.text[:200]}"
    assert resp.headers["content-type"].startswith("application/json"), what
    assert "X-API-Key" in resp.json()["detail"], what
    assert resp.headers.get("www-authenticate") == "X-API-Key", what


def _sale_bodies(base: str, key: str) -> tuple[dict[str, dict], dict[str, dict]]:
    """Valid and invalid bodies for the sale endpoints, on two fresh quotes."""
    today = date.today().isoformat()
    ids = [post(base, "/predict", {"X-API-Key": key}, json=CAR).json()["quote_id"] for _ in "ab"]
    sales_csv = f"quote_id,sale_price,sold_on\n{ids[1]},450000,{today}\n".encode()
    valid = {
        f"/quotes/{ids[0]}/sale": {"json": {"sale_price": 450000, "sold_on": today}},
        "/quotes/sales": {"files": {"file": ("sales.csv", sales_csv, "text/csv")}},
    }
    invalid = {
        f"/quotes/{ids[0]}/sale": {"json": {"sale_price": "lots"}},
        "/quotes/sales": {"files": {"file": ("x.bin", b"\xff\xfe\x00garbage", "text/csv")}},
    }
    return valid, invalid


def test_every_pricing_endpoint_needs_the_key(keyed_api_server: KeyedApiServer) -> None:
    base, key = keyed_api_server.url, keyed_api_server.key
    paths = openapi_paths(base)
    posts = {p for p, ops in paths.items() if "post" in ops}
    sales = {"/quotes/{quote_id}/sale", "/quotes/sales"}
    assert posts == set(PRICING) | sales, "a new POST endpoint: add it here, with a valid body"
    for path in posts:  # the published contract says so too
        assert paths[path]["post"].get("security"), f"{path} documents no API key"
    valid, invalid = _sale_bodies(base, key)

    wrong_keys = {
        "no key": {},
        "empty key": {"X-API-Key": ""},
        "wrong key": {"X-API-Key": "nope"},
        "key in other case": {"X-API-Key": key.upper()},
        "key as a prefix": {"X-API-Key": key[:-1]},
        "key as bearer token": {"Authorization": f"Bearer {key}"},
    }
    for path, body in {**PRICING, **valid}.items():
        for what, headers in wrong_keys.items():
            assert_refused(post(base, path, headers, **body), f"{path}, {what}")
        assert_refused(httpx.post(f"{base}{path}?api_key={key}", timeout=30, **body), path)
        # The key is checked before the body: a bad body without a key is a 401, not a 422.
        bad = {**INVALID, **invalid}[path]
        assert_refused(post(base, path, **bad), f"{path}, bad body, no key")
        ok = post(base, path, {"X-API-Key": key}, **body)
        assert ok.status_code in (200, 201), f"{path}: {ok.status_code} {ok.text[:200]}"

    # Read-only endpoints stay open for health checks and the dashboard's forms; the quotes'
    # monitoring figures are business data, behind the key.
    gets = [p for p, ops in paths.items() if "get" in ops and "{" not in p]
    assert {"/", "/health", "/model/info", "/model/importance", "/metrics"} <= set(gets)
    for path in gets:
        if path.startswith("/monitoring/"):
            assert_refused(httpx.get(base + path, timeout=30), path)
            ok = httpx.get(base + path, headers={"X-API-Key": key}, timeout=30)
            assert ok.status_code == 200, path
            continue
        assert httpx.get(base + path, timeout=30).status_code == 200, path


def test_no_key_is_refused_before_the_upload_is_read(keyed_api_server: KeyedApiServer) -> None:
    """A 100 MB upload announced without a key gets its 401 at once: nothing waits for it."""
    where = urlsplit(keyed_api_server.url)
    head = (
        "POST /predict/csv HTTP/1.1\r\n"
        f"Host: {where.netloc}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {100 * 1024 * 1024}\r\n\r\n--x\r\n"
    )
    with socket.create_connection((where.hostname, where.port), timeout=10) as sock:
        sock.sendall(head.encode())
        answer = sock.recv(4096).decode("latin-1")  # a timeout here: the server is reading
    assert answer.startswith("HTTP/1.1 401"), answer[:200]
    assert "X-API-Key" in answer


def test_pricing_is_open_when_no_key_is_set(api_server: ApiServer) -> None:
    for path, body in PRICING.items():
        assert post(api_server.url, path, **body).status_code == 200, path


def test_no_secret_in_any_answer_or_log_line(keyed_api_server: KeyedApiServer) -> None:
    base, key = keyed_api_server.url, keyed_api_server.key
    answers: dict[str, httpx.Response] = {}
    for path, ops in openapi_paths(base).items():
        if "get" in ops and "{" not in path:
            answers[f"GET {path}"] = httpx.get(base + path, timeout=30)
    for extra in ("/docs", "/redoc", "/openapi.json", "/no-such-page"):
        answers[f"GET {extra}"] = httpx.get(base + extra, timeout=30)
    answers["GET /predict (405)"] = httpx.get(
        base + "/predict", headers={"X-API-Key": key}, timeout=30
    )
    for path, body in PRICING.items():
        answers[f"POST {path} wrong key"] = post(base, path, {"X-API-Key": "nope"}, **body)
        answers[f"POST {path} with key"] = post(base, path, {"X-API-Key": key}, **body)
        answers[f"POST {path} bad body"] = post(base, path, {"X-API-Key": key}, **INVALID[path])
    too_many = [CAR] * 1001
    answers["POST /predict/batch (413)"] = post(
        base, "/predict/batch", {"X-API-Key": key}, json=too_many
    )
    statuses = {r.status_code for r in answers.values()}
    assert {200, 401, 404, 405, 413, 422}.issubset(statuses) and 400 in statuses, statuses

    for what, resp in answers.items():
        seen = resp.text + "\n" + "\n".join(f"{k}: {v}" for k, v in resp.headers.items())
        for secret in keyed_api_server.secrets:
            assert secret not in seen, f"a credential is in the answer to {what}"

    log = keyed_api_server.process.log_path.read_text(encoding="utf-8", errors="replace")
    assert "API key required" in log  # the right file, and it says a key is needed
    for secret in keyed_api_server.secrets:
        assert secret not in log, "a credential is in the API's log"
