"""`make up` never serves a champion trained on other data than the configured file: the
seed's checksum (stack.bootstrap) against the champion's (stack.cli.stale_reason)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stack import bootstrap
from stack.bootstrap import Seed
from stack.cli import stale_reason


class FakeS3:
    """The three calls seed_data makes, on a dict; a missing key raises botocore's error
    as boto3 does (NoSuchKey is a ClientError)."""

    class exceptions:  # noqa: N801 - boto3's attribute name
        ClientError = ClientError

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.puts = 0

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        if (Bucket, Key) not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject")
        body = self.objects[(Bucket, Key)]
        return {"Body": type("Body", (), {"read": lambda _self: body})()}

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> None:  # noqa: N803
        self.objects[(Bucket, Key)] = Body
        self.puts += 1


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_configured_file_is_uploaded_once_and_replaced_when_it_changes(tmp_path: Path) -> None:
    s3, listings = FakeS3(), tmp_path / "listings.csv"
    listings.write_bytes(b"name,year\nMaruti Swift VDI,2015\n")
    first = bootstrap.seed_data(s3, str(listings), tmp_path)
    assert first.uploaded and not first.replaced and first.sha256 == sha(listings.read_bytes())
    assert first.data_uri == f"s3://data/{bootstrap.REAL_KEY}"

    again = bootstrap.seed_data(s3, str(listings), tmp_path)
    assert not again.uploaded and again.sha256 == first.sha256 and s3.puts == 1

    listings.write_bytes(b"name,year\nHyundai i20 Asta,2017\n")
    changed = bootstrap.seed_data(s3, str(listings), tmp_path)
    assert changed.uploaded and changed.replaced and changed.sha256 == sha(listings.read_bytes())
    assert s3.objects[("data", bootstrap.REAL_KEY)] == listings.read_bytes()


def test_the_synthetic_sample_already_there_is_kept(tmp_path: Path) -> None:
    s3 = FakeS3()
    s3.objects[("data", bootstrap.SYNTHETIC_KEY)] = b"earlier sample"
    seed = bootstrap.seed_data(s3, None, tmp_path)
    assert seed.source == "synthetic" and not seed.uploaded and s3.puts == 0
    assert seed.sha256 == sha(b"earlier sample")


def test_an_unreadable_configured_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="could not be read.*unset it"):
        bootstrap.seed_data(FakeS3(), str(tmp_path / "missing.csv"), tmp_path)


@pytest.mark.parametrize(
    ("version", "trained_on", "stale"),
    [
        (None, None, None),  # no champion: train the first one (not "stale")
        ("3", "a" * 64, None),  # trained on these bytes: serve it
        ("3", "b" * 64, "champion v3 was trained on other data (sha256 bbbbbbbbbbbb…)"),
        ("3", None, "champion v3 records no checksum of its training data"),
    ],
)
def test_a_champion_trained_on_other_data_is_stale(
    version: str | None, trained_on: str | None, stale: str | None
) -> None:
    seed = Seed("s3://data/raw/car_details_v3.csv", "configured: /x.csv", False, "a" * 64)
    reason = stale_reason(version, trained_on, seed)
    if stale is None:
        assert reason is None
    else:
        assert reason is not None and reason.startswith(stale)
        if trained_on:  # both checksums and where the data came from, for the operator
            assert "configured: /x.csv, sha256 aaaaaaaaaaaa…" in reason
