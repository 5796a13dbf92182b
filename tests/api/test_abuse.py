"""Abusive input on the pricing endpoints: every file gets a clear 4xx or per-row reasons, the
output is never spreadsheet-executable, and memory stays bounded (issue 6, "Bad input")."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.api.conftest import CAR, csv_bytes, refresh_settings, start_api

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

FORMULA_START = re.compile(r"^[=+\-@\t\r]")


def post_csv(client, data: bytes, name: str = "cars.csv"):  # noqa: ANN001, ANN201
    return client.post("/predict/csv", files={"file": (name, data, "text/csv")})


def read_csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def assert_not_executable(frame: pd.DataFrame) -> None:
    for col in frame.columns:
        assert not FORMULA_START.match(col), col
        risky = frame[col].str.match(FORMULA_START)
        assert not risky.any(), (col, frame.loc[risky, col].tolist()[:3])


# ------------------------------------------------------------------ whole-file refusals


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (bytes(range(256)) * 40, "binary data"),
        (
            b"\x89PNG\r\n\x1a\n" + b"\x00\xff" * 500,
            "not a spreadsheet",
        ),  # refused by its first bytes
        (("\ufeff" + ",".join(CAR) + "\n").encode("utf-16"), "no cars"),
        (",".join(CAR).encode("utf-16-le") + b"\n\x00", "no cars"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2000), "Excel 97"),
    ],
    ids=["binary-junk", "png", "utf-16-bom-header-only", "utf-16-le-header-only", "old-xls"],
)
def test_unreadable_files_are_400_with_what_to_do(client, data: bytes, words: str) -> None:  # noqa: ANN001
    r = post_csv(client, data)
    assert r.status_code == 400, r.text
    detail = r.json()["detail"]
    assert words in detail and any(f in detail.lower() for f in ("upload", "add", "save"))


def test_json_bodies_have_a_byte_limit(client, settings_env) -> None:  # noqa: ANN001
    settings_env.setenv("CARPRICE_API_MAX_JSON_BYTES", "4096")
    refresh_settings()
    r = client.post("/predict/batch", json=[CAR] * 40)
    assert r.status_code == 413 and "CARPRICE_API_MAX_JSON_BYTES" in r.json()["detail"]
    padded = {**CAR, "name": "x" * 5000}
    assert client.post("/predict", json=padded).status_code == 413
    assert client.post("/predict/batch", json=[CAR] * 3).status_code == 200


# ------------------------------------------------------------------ per-row reasons


def test_malformed_lines_keep_their_place(client) -> None:  # noqa: ANN001
    good = ",".join(str(v) for v in CAR.values())
    body = "\n".join(
        [",".join(CAR), good, good + ",extra,fields", "2015,1000", good, '"unclosed,' + good]
    )
    r = post_csv(client, body.encode())
    assert r.status_code == 200, r.text
    out = read_csv(r.text)
    assert len(out) == 5
    assert out["error"].tolist()[0] == "" and out["error"].tolist()[3] == ""
    assert "fields" in out["error"][1] and "header has" in out["error"][1]
    assert "fields" in out["error"][2]
    assert out["predicted_price"][1] == "" and out["predicted_price"][3] != ""
    assert out["error"][4] != ""  # the unclosed quote swallows the rest: a reason, not a crash


def test_nan_infinity_negative_and_huge_cells(client) -> None:  # noqa: ANN001
    rows = pd.DataFrame(
        [
            {**CAR, "km_driven": "NaN"},
            {**CAR, "km_driven": "Infinity"},
            {**CAR, "mileage_kmpl": "-inf"},
            {**CAR, "km_driven": "-5000"},
            {**CAR, "year": "1e309"},
            {**CAR, "name": "Maruti " + "Swift" * 2000},  # a 10,000-character cell
            {**CAR, "note": "n" * 10_000},
            CAR,
        ]
    )
    r = post_csv(client, csv_bytes(rows))
    assert r.status_code == 200, r.text
    out = read_csv(r.text)
    errors = out["error"].tolist()
    assert "km_driven is missing" in errors[0]
    assert "finite" in errors[1] and "finite" in errors[2]
    assert "km_driven" in errors[3] and "outside" in errors[3]
    assert errors[4] != ""
    assert errors[5] == "" and errors[6] == "" and errors[7] == ""  # long text still prices
    assert len(out["note"][6]) == 10_000


def test_formulas_never_come_back_executable(client) -> None:  # noqa: ANN001
    evil = ['=HYPERLINK("http://x.example","click")', "+cmd|' /C calc'!A0", "@SUM(A1:A9)",
            "-2+3", "\t=1+1", "=1+1"]  # fmt: skip
    rows = pd.DataFrame(
        [{**CAR, "name": e, "comment": e} for e in evil]
        + [{**CAR, "brand": e} for e in evil]
        + [{**CAR, "fuel": e} for e in evil]
    )
    rows = rows.rename(columns={"comment": "=cmd()"})
    r = post_csv(client, csv_bytes(rows))
    assert r.status_code == 200, r.text
    out = read_csv(r.text)
    assert len(out) == len(rows)
    assert_not_executable(out)
    assert (out["error"][len(evil) :] != "").all()  # unknown brand / fuel: reasons, no price


# ------------------------------------------------------------------ size and memory


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def real_api(champion, tmp_path_factory) -> Iterator[tuple[str, int]]:  # noqa: ANN001
    proc, base = start_api(champion.url, tmp_path_factory.mktemp("abuse_api"))
    try:
        yield base, proc.pid
    finally:
        proc.stop()


def _junk(total: int, block: int = 1 << 20) -> Iterator[bytes]:
    header = (",".join(CAR) + "\n").encode()
    line = (",".join(str(v) for v in CAR.values()) + "\n").encode()
    yield header
    sent = len(header)
    chunk = line * (block // len(line))
    while sent < total:
        yield chunk
        sent += len(chunk)


@pytest.mark.slow
def test_300_mb_upload_is_refused_without_eating_memory(real_api: tuple[str, int]) -> None:
    base, pid = real_api
    before = _peak_rss_mb(pid)
    body = b"".join(_junk(300 * 1024 * 1024))
    files = {"file": ("big.csv", body, "text/csv")}
    try:
        r = httpx.post(base + "/predict/csv", files=files, timeout=300)
        status, detail = r.status_code, r.json()["detail"]
    except httpx.HTTPError as exc:  # the server may close the socket mid-upload after its 413
        pytest.fail(f"no 413 answer: {exc!r}")
    del body, files
    assert status == 413 and "CARPRICE_API_MAX_CSV_BYTES" in detail
    peak = _peak_rss_mb(pid)
    print(f"\n300 MB upload refused; API peak RSS {before:.0f} MB -> {peak:.0f} MB")
    assert peak - before < 100


@pytest.mark.slow
def test_a_million_rows_within_the_limit(real_api: tuple[str, int], tmp_path: Path) -> None:
    base, pid = real_api
    path = tmp_path / "million.csv"
    car = dict(CAR, name="")
    with path.open("w") as fh:
        fh.write(",".join(car) + "\n")
        for i in range(1_000_000):
            fh.write(",".join(str(v) for v in {**car, "km_driven": 1000 + i % 90_000}.values()))
            fh.write("\n")
    size = path.stat().st_size
    with path.open("rb") as fh:
        r = httpx.post(
            base + "/predict/csv", files={"file": ("million.csv", fh, "text/csv")}, timeout=900
        )
    assert r.status_code == 200, r.text[:500]
    lines = r.text.splitlines()
    assert len(lines) == 1_000_001
    assert lines[1].split(",")[-1] == "" and lines[-1].split(",")[-5] != ""
    peak = _peak_rss_mb(pid)
    print(f"\n1,000,000 rows ({size / 2**20:.0f} MiB) priced; API peak RSS {peak:.0f} MB")
    assert peak < 1500
