"""dashboard.batch and dashboard.batch_files without servers: chunks built from a Table, the
mapping check, failures kept or refused, garbage answers, the lot's value, the downloads."""

from __future__ import annotations

import codecs
import csv
import io
import math

import numpy as np
import openpyxl
import pandas as pd
import pytest

from carprice.sheets import read_table
from dashboard import batch, batch_files

HEADER = "name;year;km_driven;fuel;seller_type;transmission;owner;mileage"
SEMICOLON = (
    codecs.BOM_UTF8
    + (
        f"{HEADER}\n"
        "Maruti Swift Dzire VDI;2014;145500;Diesel;Individual;Manual;First Owner;23,4 kmpl\n"
        "Hyundai i20 Asta;2016;57622;Petrol;Dealer;Manual;Second Owner;18,6 kmpl\n"
        '"Tata Nano; base";2012;30000;Petrol;Individual;Manual;First Owner;25,0 kmpl\n'
        "Honda City;2018;40000;Petrol;Dealer;Automatic;First Owner;17,8 kmpl;extra\n"
        "Toyota Innova;2015;90000;Diesel;Dealer;Manual;Third Owner;12,99 kmpl\n"
    ).encode()
)


def semicolon_table():  # noqa: ANN201 - carprice.sheets.Table
    return read_table(SEMICOLON, "lot.csv")


def answer_for(chunk: batch.Chunk, price: float = 100_000.0) -> bytes:
    """What the API sends back: the chunk's columns, then the result columns."""
    records = list(csv.reader(io.StringIO(chunk.content.decode())))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*records[0], *batch.RESULT_COLUMNS])
    for n, row in enumerate(records[1:]):
        p = price + n
        quote_id = f"q-{chunk.start + n:04d}"  # the API's quote id of this row
        writer.writerow([*row, p, p * 0.9, p * 1.2, "7", "seats from variant", "", quote_id])
    return out.getvalue().encode()


# --------------------------------------------------------------------------- chunks


def test_chunks_are_plain_utf8_comma_csv_under_the_users_headers() -> None:
    table = semicolon_table()
    chunks = batch.build_chunks(table, 2)
    assert [(c.start, c.rows) for c in chunks] == [(0, 2), (2, 2), (4, 1)]
    assert [c.first_row for c in chunks] == [1, 3, 5]
    first = chunks[0].content.decode("utf-8")
    assert not first.startswith("\ufeff")
    records = list(csv.reader(io.StringIO(first)))
    assert records[0] == HEADER.split(";")
    assert records[1][-1] == "23.4 kmpl"  # decimal comma read as a point
    # Every cell quoted: the ';' inside a name can't pass for a delimiter.
    assert '"Tata Nano; base"' in chunks[1].content.decode()
    # The line with a cell too many is held back (its cells may be shifted), never sent.
    assert table.problems and chunks[1].sent == (2,) and 3 not in chunks[1].sent
    assert len(list(csv.reader(io.StringIO(chunks[1].content.decode())))) == 2


def test_a_chunk_of_malformed_lines_only_is_not_posted() -> None:
    table = read_table(b"name,year,km_driven\nA,2015,1000,x\nB,2016,2000,y\n", "x.csv")
    chunks = batch.build_chunks(table, 10)
    assert chunks[0].sent == ()
    posted: list[int] = []
    outcome = batch.run(chunks, lambda c: posted.append(c.index) or b"")
    assert posted == [] and not outcome.failures
    results = batch.combine(table, chunks, outcome)
    assert results["error"].str.contains("fix the line in the file").all()
    assert results["predicted_price"].isna().all()


# --------------------------------------------------------------------------- the mapping


def editor_choices(rows: pd.DataFrame) -> dict[str, str]:
    """The mapping editor's rows as the page reads them: header → chosen field."""
    return dict(zip(rows["column"], rows["field"], strict=True))


def test_the_suggested_mapping_prices_a_names_only_file() -> None:
    table = read_table(
        b"Car Name,Year,KMs,Fuel Type,Seller,Gearbox,Owners,Stock no\nx,1,2,3,4,5,6,7\n"
    )
    rows = batch.mapping_rows(table)
    assert rows["field"].tolist() == [
        "name", "year", "km_driven", "fuel", "seller_type", "transmission", "owner", batch.IGNORE,
    ]  # fmt: skip
    mapping = batch.chosen_mapping(table.headers, editor_choices(rows))
    assert mapping["Stock no"] is None and mapping["KMs"] == "km_driven"
    check = batch.check_mapping(table.headers, mapping)
    assert check.problem is None and check.fields[:3] == ["name", "year", "km_driven"]
    assert batch.mapping_json(mapping) == batch.mapping_json(dict(reversed(mapping.items())))


def test_a_missing_field_is_named_with_what_to_do() -> None:
    headers = ["name", "year", "Odo (miles)", "fuel", "seller_type", "transmission", "owner"]
    check = batch.check_mapping(headers, {})
    assert check.fields is None
    assert "km_driven" in check.problem and "pick the column" in check.problem
    fixed = batch.check_mapping(headers, {"Odo (miles)": "km_driven"})
    assert fixed.problem is None


def test_two_columns_for_one_field_is_a_problem() -> None:
    headers = ["name", "year", "km_driven", "Kms", "fuel", "seller_type", "transmission", "owner"]
    choices = dict.fromkeys(headers, batch.IGNORE) | {h: h for h in headers if h != "Kms"}
    choices["Kms"] = "km_driven"
    check = batch.check_mapping(headers, batch.chosen_mapping(headers, choices))
    assert check.fields is None and "same field" in check.problem
    assert check.problem.startswith("Two columns")


def test_a_duplicated_header_feeds_its_first_column_only() -> None:
    headers = ["name", "year", "year", "km_driven", "fuel", "seller_type", "transmission", "owner"]
    rows = batch.mapping_rows(read_table(",".join(headers).encode() + b"\n" + b"a," * 7 + b"b\n"))
    assert rows["column"].tolist().count("year") == 1
    mapping = batch.chosen_mapping(headers, editor_choices(rows))
    assert "year" not in mapping  # left to the positional suggestion
    check = batch.check_mapping(headers, mapping)
    assert check.problem is None and check.fields[1] == "year"
    assert check.fields[2].startswith("passthrough:")
    clash = batch.check_mapping(headers, {"year": "km_driven", "km_driven": None})
    assert "appears more than once" in clash.problem


def test_every_field_has_words() -> None:
    assert set(batch.FIELD_WORDS) == set(batch.FIELD_CHOICES)


# --------------------------------------------------------------------------- pricing


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (b"", "empty"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"<html><body>502 Bad Gateway</body></html>", "no predicted_price"),
        (b"name,predicted_price,error\nA,1\n", "broken line"),
        (b'name,predicted_price,error\n"unterminated,1,\n', "broken line"),
        (b"\x00\x01\x02", "no predicted_price"),
    ],
)
def test_garbage_answers_are_a_reason_not_a_traceback(answer: bytes, reason: str) -> None:
    with pytest.raises(batch.BadAnswer, match=reason):
        batch.parse_priced(answer)
    table = read_table(b"name,year\nA,2015\n")
    chunks = batch.build_chunks(table, 10)
    outcome = batch.run(chunks, lambda _c: answer)
    assert reason in outcome.failures[0] and not outcome.refused
    assert batch.combine(table, chunks, outcome)["error"][0].endswith("retry them")


def test_parse_priced_raises_nothing_but_bad_answer_on_random_bytes() -> None:
    rng = np.random.default_rng(7)
    header = ",".join(batch.RESULT_COLUMNS).encode() + b"\n"
    for n in range(300):
        noise = rng.integers(0, 256, size=int(rng.integers(0, 200)), dtype=np.uint8).tobytes()
        answer = header + noise if n % 2 else noise
        try:
            frame = batch.parse_priced(answer)
        except batch.BadAnswer:
            continue
        assert list(frame.columns) == list(batch.RESULT_COLUMNS)


def test_the_apis_result_columns_win_over_same_named_input_columns() -> None:
    answer = b"error,predicted_price,price_low,price_high,model_version,filled,error\n" + (
        b"mine,5,4,6,3,,\n"
    )
    frame = batch.parse_priced(answer)
    assert frame["error"].tolist() == [""] and frame["predicted_price"].tolist() == [5.0]


def test_failed_chunk_rows_are_kept_and_retry_fills_them() -> None:
    content = b"name,year\n" + b"".join(f"car{i},2015\n".encode() for i in range(25))
    table = read_table(content, "cars.csv")
    chunks = batch.build_chunks(table, 10)
    calls: list[int] = []

    def flaky(chunk: batch.Chunk) -> bytes:
        calls.append(chunk.index)
        if chunk.index == 1 and calls.count(1) == 1:
            raise ConnectionError("API restarted")
        return answer_for(chunk)

    outcome = batch.run(chunks, flaky)
    assert set(outcome.parts) == {0, 2} and "API restarted" in outcome.failures[1]
    results = batch.combine(table, chunks, outcome)
    assert len(results) == 25
    lost = results[results["error"] != ""]
    assert lost.index.tolist() == list(range(10, 20))
    assert lost["error"].str.contains("rows 11–20 failed").all()
    assert lost["predicted_price"].isna().all() and (lost["filled"] == "").all()
    batch.run(chunks, flaky, outcome)  # retry: only the failed chunk is sent again
    assert calls == [0, 1, 2, 1] and not outcome.failures
    assert batch.combine(table, chunks, outcome)["predicted_price"].notna().all()


def test_a_refusal_stops_pricing_and_names_the_apis_reason() -> None:
    table = read_table(b"name,year\n" + b"car,2015\n" * 30, "cars.csv")
    chunks = batch.build_chunks(table, 10)
    posted: list[int] = []

    def refuse(chunk: batch.Chunk) -> bytes:
        posted.append(chunk.index)
        raise batch.Refused("missing column(s): km_driven")

    outcome = batch.run(chunks, refuse)
    assert posted == [0] and outcome.refused == "missing column(s): km_driven"
    results = batch.combine(table, chunks, outcome)
    assert results["error"].str.contains("refused the file").all()
    assert results["error"].str.contains("km_driven").all()


@pytest.mark.parametrize(
    ("status", "refused"), [(400, True), (422, True), (413, True), (401, True), (429, False),
                            (408, False), (500, False), (503, False), (None, False)]
)  # fmt: skip
def test_only_a_4xx_about_the_file_is_a_refusal(status: int | None, refused: bool) -> None:
    assert batch.is_refusal(status) is refused


def test_a_cut_off_answer_fails_its_chunk_instead_of_losing_rows() -> None:
    table = read_table(b"name,year\n" + b"".join(f"car{i},2015\n".encode() for i in range(6)))
    chunks = batch.build_chunks(table, 3)

    def first_row_only(chunk: batch.Chunk) -> bytes:
        return b"\n".join(answer_for(chunk).splitlines()[:2]) + b"\n"

    outcome = batch.run(chunks, first_row_only)
    assert set(outcome.failures) == {0, 1} and not outcome.parts
    assert "answered 1 rows for 3 sent" in outcome.failures[0]
    assert batch.combine(table, chunks, outcome)["error"].str.startswith("not priced").all()


# --------------------------------------------------------------------------- the lot


def results_frame(prices, lows, highs, errors=None) -> pd.DataFrame:  # noqa: ANN001
    n = len(prices)
    return pd.DataFrame(
        {
            "predicted_price": prices,
            "price_low": lows,
            "price_high": highs,
            "model_version": ["7"] * n,
            "filled": [""] * n,
            "error": errors or [""] * n,
        }
    )


def test_lot_value_and_range_under_independent_errors() -> None:
    results = results_frame(
        [300_000.0, 500_000.0, np.nan], [270_000.0, 460_000.0, np.nan],
        [340_000.0, 530_000.0, np.nan], ["", "", "unknown brand"],
    )  # fmt: skip
    s = batch.summarise(results)
    assert (s.rows, s.priced, s.total) == (3, 2, 800_000.0)
    assert s.low == pytest.approx(800_000 - math.hypot(30_000, 40_000))  # 750,000
    assert s.high == pytest.approx(800_000 + math.hypot(40_000, 30_000))  # 850,000
    assert (s.floor, s.ceiling) == (730_000.0, 870_000.0)
    assert s.floor <= s.low <= s.total <= s.high <= s.ceiling


def test_nothing_priced_is_a_zero_lot() -> None:
    s = batch.summarise(results_frame([np.nan], [np.nan], [np.nan], ["bad"]))
    assert (s.priced, s.total, s.low, s.high) == (0, 0.0, 0.0, 0.0)


def test_brands_from_the_mapped_column_or_the_name() -> None:
    rows = pd.DataFrame({0: ["Land Rover Discovery 4", "Maruti Swift VDI", ""], 1: ["x", "y", "z"]})
    assert batch.brands(rows, ["name", "passthrough:1:b"]).tolist() == [
        "Land Rover", "Maruti", "unknown",
    ]  # fmt: skip
    assert batch.brands(rows, ["passthrough:0:a", "brand"]).tolist() == ["x", "y", "z"]
    results = results_frame([1.0, 2.0, np.nan], [1.0, 2.0, np.nan], [1.0, 2.0, np.nan])
    counts = batch.brand_counts(pd.Series(["Maruti", "Maruti", "Tata"]), results)
    assert counts.to_dict("records")[0] == {"brand": "Maruti", "cars": 2, "priced": 2, "value": 3.0}


def test_unique_names_for_display() -> None:
    assert batch.unique_names(["km", "km", "", "error"], taken=["error"]) == [
        "km", "km (2)", "column 3", "error (2)",
    ]  # fmt: skip


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


# --------------------------------------------------------------------------- the downloads


def priced_semicolon_lot() -> tuple:
    table = semicolon_table()
    chunks = batch.build_chunks(table, 2)
    outcome = batch.run(chunks, lambda c: answer_for(c, 485_000.0))
    return table, batch_files.priced_sheet(table, batch.combine(table, chunks, outcome))


def test_template_has_the_identity_columns_only() -> None:
    frame = pd.read_csv(io.BytesIO(batch_files.template_csv()))
    assert tuple(frame.columns) == batch.IDENTITY_COLUMNS and len(frame) >= 1


def test_the_download_keeps_the_users_columns_then_adds_the_prices() -> None:
    table, sheet = priced_semicolon_lot()
    assert list(sheet.frame.columns) == [
        *HEADER.split(";"), "Price (Rs)", "Low (Rs)", "High (Rs)", "Reason not priced",
        "Specs assumed", "Model version", "Quote id",
    ]  # fmt: skip
    assert sheet.not_priced.tolist() == [False, False, False, True, False]
    # Each priced row carries its quote id (to record the sale); a row not priced has none.
    ids = sheet.frame["Quote id"].tolist()
    assert ids[3] == "" and all(i.startswith("q-") for n, i in enumerate(ids) if n != 3)
    table = read_table(b"name,Price (Rs)\na,1\n")  # a file priced before, uploaded again
    again = batch_files.priced_sheet(table, batch.combine(table, [], batch.BatchOutcome()))
    assert list(again.frame.columns)[:3] == ["name", "Price (Rs)", "Price (Rs) (CarPrice)"]


def test_csv_download_round_trips_the_uploads_dialect() -> None:
    table, sheet = priced_semicolon_lot()
    out = batch_files.to_csv(sheet, table.dialect)
    assert out.startswith(codecs.BOM_UTF8)
    text = out.decode("utf-8-sig")
    assert text.splitlines()[0].startswith(HEADER + ";Price (Rs)")
    assert ";23,4 kmpl;485000;436500;582000;" in text  # decimal comma back, prices whole
    back = read_table(out, "back.csv")
    assert back.dialect.delimiter == ";" and back.dialect.decimal == ","
    assert back.headers[: len(table.headers)] == table.headers
    assert back.frame.iloc[:, : len(table.headers)].equals(table.frame)
    assert back.frame["Reason not priced"].iloc[3].startswith("not priced: this line has")


@pytest.mark.parametrize(
    ("content", "delimiter", "encoding"),
    [
        ("name\tyear\tkm_driven\nCitroën C3\t2019\t1000\n".encode("utf-16"), "\t", "utf-16"),
        ("name|year|km_driven\nCitroën C3|2019|1000\n".encode("cp1252"), "|", "cp1252"),
        (b"name,year,km_driven\n=HYPERLINK(1),2019,1000\n", ",", "utf-8"),
    ],
)
def test_csv_download_in_other_dialects(content: bytes, delimiter: str, encoding: str) -> None:
    table = read_table(content, "lot.csv")
    results = batch.combine(table, [], batch.BatchOutcome())
    out = batch_files.to_csv(batch_files.priced_sheet(table, results), table.dialect)
    back = read_table(out, "back.csv")
    assert back.dialect.delimiter == delimiter
    assert back.dialect.encoding.replace("-sig", "") == encoding
    cell = back.rows.iloc[0, 0]
    assert cell in ("Citroën C3", "'=HYPERLINK(1)")  # accents kept; a formula stays text


def test_excel_has_numbers_rupees_a_frozen_header_and_marked_rows() -> None:
    table, sheet = priced_semicolon_lot()
    book = openpyxl.load_workbook(io.BytesIO(batch_files.to_excel(sheet)))
    ws = book["quotes"]
    assert ws.freeze_panes == "A2"
    header = [c.value for c in ws[1]]
    assert header == list(sheet.frame.columns)
    first = {h: c for h, c in zip(header, ws[2], strict=True)}
    assert first["year"].value == 2014 and first["km_driven"].value == 145500
    assert first["mileage"].value == "23.4 kmpl" and first["name"].data_type == "s"
    for name in ("Price (Rs)", "Low (Rs)", "High (Rs)"):
        assert (
            isinstance(first[name].value, int) and first[name].number_format == batch_files.RUPEES
        )
    assert first["Price (Rs)"].value == 485_000
    assert "##\\,##\\,##0" in batch_files.RUPEES  # lakh grouping
    fills = [ws.cell(r, 1).fill.fgColor.rgb for r in range(2, ws.max_row + 1)]
    assert fills[3].endswith("FDECEA") and not any(f.endswith("FDECEA") for f in fills[:3])
    failed = {h: c.value for h, c in zip(header, ws[5], strict=True)}
    assert failed["Price (Rs)"] is None and failed["Reason not priced"].startswith("not priced")


def test_excel_keeps_text_as_text() -> None:
    table = read_table(
        b'name,year,stock,km_driven,note\n=1+1,2015,00123,"1,20,000",a\x01b\nB,2016,00124,95000,\n'
    )
    results = batch.combine(table, [], batch.BatchOutcome())
    ws = openpyxl.load_workbook(io.BytesIO(batch_files.to_excel(
        batch_files.priced_sheet(table, results))))["quotes"]  # fmt: skip
    row = [c.value for c in ws[2]]
    assert row[:5] == ["=1+1", 2015, "00123", 120000, "ab"]  # formula text, codes, grouped km
    assert ws["A2"].data_type == "s"


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["2014", "", "2016"], [2014, None, 2016]),
        (["23.4", "7"], [23.4, 7.0]),
        (["1,20,000", "95,000"], [120000, 95000]),
        (["007", "12"], None),
        (["23.4 kmpl"], None),
        (["", ""], None),
        (["12345678901234567890"], None),
    ],
)
def test_which_columns_are_numbers(cells: list[str], expected: list | None) -> None:
    assert batch_files.numbers(pd.Series(cells)) == expected
