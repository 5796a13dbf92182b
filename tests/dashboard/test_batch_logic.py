"""dashboard.batch without servers: chunking on CSV records, failed chunks kept, Excel."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd
import pytest

from dashboard import batch

CSV = (
    b'name,year\n"Maruti Swift, VDI",2015\n"Line\nbreak",2016\n'
    b"Only one field\nA,2018,extra\nB,2019\n"
)


def _priced(chunk: batch.Chunk) -> bytes:
    frame = pd.read_csv(io.BytesIO(chunk.content), dtype=str, header=0, names=["name", "year"],
                        on_bad_lines="skip", engine="python")  # fmt: skip
    frame["predicted_price"], frame["price_low"], frame["price_high"] = 100.0, 90.0, 110.0
    frame["model_version"], frame["filled"], frame["error"] = "1", "seats from variant", ""
    return frame.to_csv(index=False).encode()


def test_template_has_the_identity_columns_only() -> None:
    frame = pd.read_csv(io.BytesIO(batch.template_csv()))
    assert tuple(frame.columns) == batch.IDENTITY_COLUMNS and len(frame) >= 1
    assert not {"mileage", "engine", "max_power_bhp"} & set(frame.columns)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("", ""),
        (", ".join(f"{c} from variant" for c in batch.SPEC_WORDS), "all specs from variant"),
        (
            "engine_cc from variant, seats from model_line, torque_nm from variant",
            "variant: engine, torque · model line: seats",
        ),  # fmt: skip
    ],
)
def test_filled_is_summarised_per_level(text: str, shown: str) -> None:
    assert batch.summarise_filled(text) == shown
    assert batch.summarise_filled_column(pd.Series([text, text])).tolist() == [shown, shown]


def test_split_keeps_records_whole_and_counts_rows() -> None:
    chunks = batch.split(CSV, 2)
    assert [c.rows for c in chunks] == [2, 2, 1]
    assert [c.first_row for c in chunks] == [1, 3, 5]
    first = chunks[0].content.decode()
    assert first.startswith("name,year\n") and '"Line\nbreak"' in first
    assert "A,2018,extra" in chunks[1].content.decode()  # wrong field count passed through


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "empty"), (b"name,year\n", "no cars"), ("é,1\n".encode("latin-1"), "UTF-8")],
)
def test_unreadable_uploads_say_why(content: bytes, reason: str) -> None:
    with pytest.raises(batch.UploadError, match=reason):
        batch.split(content, 10)


def test_failed_chunk_rows_are_kept_and_retry_fills_them() -> None:
    content = b"name,year\n" + b"".join(f"car{i},2015\n".encode() for i in range(25))
    chunks = batch.split(content, 10)
    calls: list[int] = []

    def flaky(chunk: batch.Chunk) -> bytes:
        calls.append(chunk.index)
        if chunk.index == 1 and calls.count(1) == 1:
            raise ConnectionError("API restarted")
        return _priced(chunk)

    outcome = batch.run(chunks, flaky)
    assert set(outcome.parts) == {0, 2} and "API restarted" in outcome.failures[1]
    table = batch.combine(chunks, outcome)
    assert len(table) == 25 and table["row"].tolist() == list(range(1, 26))
    lost = table[table["error"] != ""]
    assert len(lost) == 10 and lost["error"].str.contains("rows 11–20").all()
    assert lost["predicted_price"].isna().all() and (lost["filled"] == "").all()
    assert (table.loc[table["error"] == "", "filled"] == "seats from variant").all()
    batch.run(chunks, flaky, outcome)  # retry: only the failed chunk is sent again
    assert calls == [0, 1, 2, 1]
    assert not outcome.failures
    assert batch.combine(chunks, outcome)["predicted_price"].notna().all()


def test_excel_and_csv_round_trip() -> None:
    frame = pd.DataFrame({"row": [1, 2], "name": ["a", "=b"], "predicted_price": [1.0, None],
                          "error": ["", "reason"]})  # fmt: skip
    book = openpyxl.load_workbook(io.BytesIO(batch.to_excel(frame)))
    rows = list(book["quotes"].values)
    assert rows[0] == ("row", "name", "predicted_price", "error") and len(rows) == 3
    back = pd.read_csv(io.BytesIO(batch.to_csv(frame)), encoding="utf-8-sig")
    assert back["error"].fillna("").tolist() == ["", "reason"]


def test_brands_from_column_or_name() -> None:
    assert batch.brands(pd.DataFrame({"brand": [" BMW "]})).tolist() == ["BMW"]
    names = pd.DataFrame({"name": ["Land Rover Discovery 4", "Maruti Swift VDI"]})
    assert batch.brands(names).tolist() == ["Land Rover", "Maruti"]
