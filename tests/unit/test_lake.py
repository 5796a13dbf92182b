"""The lake on local paths (no servers) and on a real S3 (`rclone serve s3`, marked
integration): the same semantics whatever the scheme."""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from carprice import lake
from tests.servers import S3Server

FRAME = pd.DataFrame({"name": ["Maruti Swift", "Honda City"], "km_driven": ["1,000", "007"]})


@pytest.fixture(params=["local", "file"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A lake root as a plain path and as a file:// URL."""
    return str(tmp_path) if request.param == "local" else f"file://{tmp_path}"


@pytest.fixture
def s3_root(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh prefix in the test S3's `data` bucket, with the lake's env pointing there."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    return f"s3://data/lake-test/{uuid.uuid4().hex[:8]}"


def _roundtrip(root: str) -> None:
    """What every scheme must do: the semantics the pipeline and batch steps rely on."""
    uri = lake.join(root, "runs", "r1", "stage", "data.bin")
    assert not lake.exists(uri)
    with pytest.raises(FileNotFoundError, match=f"^no (file|object) at {uri}$"):
        lake.read_bytes(uri)

    assert lake.write_bytes(uri, b"first") == uri
    assert lake.exists(uri)
    assert lake.read_bytes(uri) == b"first"
    # A folder/prefix is not a file.
    assert not lake.exists(lake.join(root, "runs", "r1", "stage"))

    lake.write_bytes(uri, b"second, longer")  # a retry rewrites in place
    assert lake.read_bytes(uri) == b"second, longer"

    lake.delete(uri)
    assert not lake.exists(uri)
    lake.delete(uri)  # idempotent
    lake.write_bytes(uri, b"third")  # written again after a delete: visible at once
    assert lake.exists(uri)
    assert lake.read_bytes(uri) == b"third"

    csv_uri = lake.join(root, "batch", "out", "cars.csv")
    lake.write_csv(csv_uri, FRAME)
    back = lake.read_csv(csv_uri)
    pd.testing.assert_frame_equal(back, FRAME)  # every cell stays text ("007" too)

    parquet_uri = lake.join(root, "processed", "train.parquet")
    typed = FRAME.assign(fuel=pd.Categorical(["Petrol", "Diesel"]), year=[2015, 2019])
    lake.write_bytes(parquet_uri, lake.parquet_bytes(typed))
    pd.testing.assert_frame_equal(lake.read_parquet(parquet_uri), typed)


def test_join_strips_slashes() -> None:
    assert lake.join("s3://data/", "/runs/", "r1/") == "s3://data/runs/r1"
    assert lake.join("/tmp/lake", "raw", "x.csv") == "/tmp/lake/raw/x.csv"


def test_local_roundtrip(root: str) -> None:
    _roundtrip(root)


def test_local_write_is_atomic_and_leaves_no_temp_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = str(tmp_path / "a" / "b" / "file.bin")
    lake.write_bytes(uri, b"x" * 1000)
    assert [p.name for p in (tmp_path / "a" / "b").iterdir()] == ["file.bin"]

    real_replace = lake.os.replace
    seen: list[bytes] = []

    def replace(src: str, dst: str) -> None:
        seen.append(Path(dst).read_bytes())  # the old content until the rename
        real_replace(src, dst)

    monkeypatch.setattr(lake.os, "replace", replace)
    lake.write_bytes(uri, b"new")
    assert seen == [b"x" * 1000]
    assert Path(uri).read_bytes() == b"new"


def test_local_failed_write_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = str(tmp_path / "file.bin")
    lake.write_bytes(uri, b"old")

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(lake.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        lake.write_bytes(uri, b"new")
    assert Path(uri).read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_relative_local_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    lake.write_bytes(".stack/lake/raw/x.csv", b"a,b\n1,2\n")
    assert (tmp_path / ".stack/lake/raw/x.csv").read_bytes() == b"a,b\n1,2\n"
    assert lake.read_csv(".stack/lake/raw/x.csv").to_dict("records") == [{"a": "1", "b": "2"}]


class _Files(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/raw.csv":
            body = b"name,year\nMaruti Swift,2015\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/moved.csv":
            self.send_response(302)
            self.send_header("Location", "/raw.csv")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_root() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_http_read(http_root: str) -> None:
    assert lake.read_csv(f"{http_root}/raw.csv").to_dict("records") == [
        {"name": "Maruti Swift", "year": "2015"}
    ]
    assert lake.read_bytes(f"{http_root}/moved.csv").startswith(b"name,year")
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        lake.read_bytes(f"{http_root}/missing.csv")


# --------------------------------------------------------------------------- real S3


@pytest.mark.integration
def test_s3_roundtrip(s3_root: str) -> None:
    _roundtrip(s3_root)


@pytest.mark.integration
def test_s3_sees_objects_written_by_others(s3_root: str, s3_server: S3Server) -> None:
    """No listing cache: an object another client writes (or deletes) after the lake looked
    is seen at once."""
    uri = lake.join(s3_root, "validated", "_SUCCESS")
    assert not lake.exists(uri)  # the lake has now listed the prefix
    key = uri.removeprefix("s3://data/")
    client = s3_server.client()
    client.put_object(Bucket="data", Key=key, Body=b"{}")
    assert lake.exists(uri)
    assert lake.read_bytes(uri) == b"{}"
    client.delete_object(Bucket="data", Key=key)
    assert not lake.exists(uri)


@pytest.mark.integration
def test_s3_missing_bucket_is_file_not_found(s3_root: str) -> None:
    with pytest.raises(FileNotFoundError, match="no-such-bucket"):
        lake.read_bytes("s3://no-such-bucket/raw/x.csv")


def _child_roundtrip(uri: str, queue: multiprocessing.Queue) -> None:
    try:
        lake.write_bytes(uri, b"from the child")
        queue.put(lake.read_bytes(uri))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        queue.put(repr(exc))


@pytest.mark.integration
def test_s3_works_in_a_forked_process(s3_root: str) -> None:
    """Airflow forks task processes from a scheduler that may have used the lake already:
    the child must get its own event loop and client, not hang on the parent's."""
    parent_uri = lake.join(s3_root, "parent.bin")
    lake.write_bytes(parent_uri, b"from the parent")  # starts fsspec's loop in this process
    assert lake.read_bytes(parent_uri) == b"from the parent"

    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_roundtrip, args=(lake.join(s3_root, "child.bin"), queue))
    child.start()
    child.join(60)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked process hung on S3")
    assert queue.get(timeout=5) == b"from the child"
    assert lake.read_bytes(parent_uri) == b"from the parent"  # the parent still works too
