"""POST /predict/csv reads the tables salespeople really upload: every CSV dialect Excel writes,
.xlsx workbooks, headers as people name them (with the client's own mapping on top), and an
input price that is kept but never priced on. The same cars must get the same prices whatever
the file looked like; a file that can't be read gets a 400 saying how to fix it."""

from __future__ import annotations

import io
import json
import zipfile

import pandas as pd
import pytest
from openpyxl import Workbook

from api.tabular import _head, plain_head
from carprice.synthetic import generate
from tests.api.conftest import CAR, REPO, csv_bytes, refresh_settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

PRICES = ["predicted_price", "price_low", "price_high", "error"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Raw listings (unit strings such as "18.07 kmpl") the session's synthetic champion knows.
LISTINGS = (
    generate(rows=12, seed=7)
    .drop_duplicates(subset=["name", "year", "km_driven"])
    .reset_index(drop=True)
    .astype(str)
)
RAW = LISTINGS.drop(columns=["selling_price"])


def post(client, data: bytes, name: str = "cars.csv", content_type: str = "text/csv", **form):  # noqa: ANN001, ANN003, ANN201
    return client.post(
        "/predict/csv", files={"file": (name, data, content_type)}, data=form or None
    )


def read_out(response) -> pd.DataFrame:  # noqa: ANN001
    assert response.status_code == 200, response.text
    return pd.read_csv(io.StringIO(response.text), dtype=str, keep_default_na=False)


def told(response) -> tuple[str, dict, list]:  # noqa: ANN001
    """The three X-CarPrice-* headers, decoded; they must be plain ASCII."""
    values = [response.headers[f"X-CarPrice-{k}"] for k in ("Dialect", "Mapping", "Notes")]
    for value in values:
        assert value.isascii(), value
    return values[0], json.loads(values[1]), json.loads(values[2])


def decimal_commas(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers with units as a European Excel writes them: '18,07 kmpl', '117,0 bhp'."""
    out = frame.copy()
    for col in ("mileage", "max_power"):
        out[col] = out[col].str.replace(r"^(\d+)\.(\d+)", r"\1,\2", regex=True)
    return out


@pytest.fixture(scope="module")
def reference(client) -> pd.DataFrame:  # noqa: ANN001
    """The listings as a plain comma CSV: the prices every other dialect must reproduce."""
    out = read_out(post(client, csv_bytes(RAW)))
    assert (out["error"] == "").sum() >= len(RAW) - 1, out["error"].tolist()
    return out[PRICES]


def assert_same_prices(out: pd.DataFrame, reference: pd.DataFrame) -> None:
    assert len(out) == len(reference)
    pd.testing.assert_frame_equal(out[PRICES], reference)


# ------------------------------------------------------------------ dialects


def test_plain_comma_file_says_what_was_read(client) -> None:  # noqa: ANN001
    r = post(client, (REPO / "data_samples" / "quote_cars.csv").read_bytes())
    assert len(read_out(r)) == 10
    dialect, mapping, notes = told(r)
    assert dialect == "comma-separated CSV, UTF-8"
    assert notes == []
    assert mapping["km_driven"] == "km_driven" and mapping["owner_rank"] == "owner_rank"


def test_semicolon_bom_decimal_commas(client, reference) -> None:  # noqa: ANN001
    text = decimal_commas(RAW).to_csv(sep=";", index=False)
    assert "kmpl" in text and ",07 kmpl" in text  # the file really has decimal commas
    r = post(client, ("\ufeff" + text).encode())
    out = read_out(r)
    assert_same_prices(out, reference)
    assert out["mileage"].tolist() == RAW["mileage"].tolist()  # written back with points
    assert told(r)[0] == "semicolon-separated CSV, UTF-8 with BOM, decimal commas"


def test_utf16_tab_separated(client, reference) -> None:  # noqa: ANN001
    """Excel's "Unicode text": UTF-16 with a BOM, tab-separated; the answer is UTF-8 CSV."""
    r = post(client, RAW.to_csv(sep="\t", index=False).encode("utf-16"), "cars.txt")
    assert_same_prices(read_out(r), reference)
    assert told(r)[0] == "tab-separated CSV, UTF-16"
    assert r.headers["content-type"] == "text/csv; charset=utf-8"


def test_windows_1252_with_accents_and_a_note(client, reference) -> None:  # noqa: ANN001
    frame = RAW.assign(Salesperson="José Müller")
    r = post(client, frame.to_csv(index=False).encode("cp1252"))
    out = read_out(r)
    assert_same_prices(out, reference)
    assert set(out["Salesperson"]) == {"José Müller"}  # decoded right, written as UTF-8
    dialect, mapping, notes = told(r)
    assert dialect == "comma-separated CSV, Windows-1252"
    assert mapping["Salesperson"] is None
    assert any("Windows-1252" in note and "CSV UTF-8" in note for note in notes)


def test_pipe_separated(client, reference) -> None:  # noqa: ANN001
    r = post(client, RAW.to_csv(sep="|", index=False).encode())
    assert_same_prices(read_out(r), reference)
    assert told(r)[0] == "pipe-separated CSV, UTF-8"


def test_title_row_above_the_header(client, reference) -> None:  # noqa: ANN001
    data = ("Used cars to price — Pune branch\n" + RAW.to_csv(index=False)).encode()
    r = post(client, data)
    out = read_out(r)
    assert_same_prices(out, reference)
    assert list(out.columns[: len(RAW.columns)]) == list(RAW.columns)
    dialect, _, notes = told(r)
    assert dialect == "comma-separated CSV, UTF-8, header below a title"
    assert any("title" in note for note in notes)


def workbook(sheet: str = "Cars") -> bytes:
    """A notes sheet first, then the cars under a title and a blank row, numbers as numbers."""
    book = Workbook()
    notes = book.active
    notes.title = "Read me"
    notes.append(["Prices requested by the Pune branch"])
    cars = book.create_sheet(sheet)
    cars.append(["March stock"])
    cars.append([])
    cars.append(list(RAW.columns))
    numeric = {"year", "km_driven", "seats"}
    for row in RAW.itertuples(index=False):
        cars.append([int(v) if c in numeric else v for c, v in zip(RAW.columns, row, strict=True)])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("upload", XLSX), ("cars.xlsx", "application/octet-stream"), ("cars.dat", "text/csv")],
    ids=["content-type", "file-name", "zip-magic"],
)
def test_xlsx_second_sheet_under_a_title(client, reference, name, content_type) -> None:  # noqa: ANN001
    r = post(client, workbook(), name, content_type)
    assert_same_prices(read_out(r), reference)
    dialect, _, notes = told(r)
    assert dialect == "Excel workbook, sheet 'Cars', header below a title"
    assert any("'Cars'" in note for note in notes)


def test_non_ascii_sheet_name_is_escaped_in_the_header(client) -> None:  # noqa: ANN001
    r = post(client, workbook("Autos – März ₹"), "cars.xlsx", XLSX)
    dialect = json.loads(f'"{told(r)[0]}"')
    assert dialect == "Excel workbook, sheet 'Autos – März ₹', header below a title"


def test_utf8_at_the_start_windows_1252_later_is_read_whole(client) -> None:  # noqa: ANN001
    """Plain for its first lines, then a Windows-1252 byte: read whole, with the note."""
    rows = pd.DataFrame([{**CAR, "Dealer": "Autohaus"}] * 150)
    rows.loc[140, "Dealer"] = "Müller"
    r = post(client, rows.to_csv(index=False).encode("cp1252"))
    out = read_out(r)
    assert out["Dealer"][140] == "Müller" and (out["error"] == "").all()
    assert told(r)[0] == "comma-separated CSV, Windows-1252"


# ------------------------------------------------------------------ header mapping


def odometer_sheet() -> pd.DataFrame:
    """A dealer's sheet: 'Mileage' holds the odometer, 'KMs' a note, spec columns as numbers."""
    cars = pd.DataFrame([CAR, {**CAR, "year": 2018, "km_driven": 20000}])
    cars = cars.rename(columns={"km_driven": "Mileage"}).assign(KMs="see odometer")
    return cars


def test_mapping_overrides_the_guess(client) -> None:  # noqa: ANN001
    data = csv_bytes(odometer_sheet())
    guessed = read_out(post(client, data))
    assert all(err for err in guessed["error"])  # 'KMs' taken as km_driven: not a number
    mapping = json.dumps({"Mileage": "km_driven", "KMs": None})
    r = post(client, data, mapping=mapping)
    out = read_out(r)
    assert (out["error"] == "").all()
    single = [client.post("/predict", json={**CAR, **c}).json()["price"] for c in (
        {}, {"year": 2018, "km_driven": 20000})]  # fmt: skip
    assert out["predicted_price"].astype(float).tolist() == single
    assert out["KMs"].tolist() == ["see odometer"] * 2 and out["Mileage"].tolist() == [
        "50000", "20000"]  # fmt: skip
    told_mapping = told(r)[1]
    assert told_mapping["Mileage"] == "km_driven" and told_mapping["KMs"] is None


def test_mapping_applies_to_files_read_whole_too(client) -> None:  # noqa: ANN001
    data = odometer_sheet().to_csv(sep=";", index=False).encode()
    r = post(client, data, mapping='{"Mileage": "km_driven", "KMs": null}')
    assert (read_out(r)["error"] == "").all()
    assert told(r)[1]["Mileage"] == "km_driven"


def test_a_repeated_header_feeds_its_field_once(client) -> None:  # noqa: ANN001
    """Two columns for one field: the first feeds it, the other passes through, and the
    mapping header says so (the client can map them otherwise)."""
    frame = pd.DataFrame([CAR]).assign(YEAR="1999")
    r = post(client, csv_bytes(frame))
    out = read_out(r)
    assert float(out["predicted_price"][0]) == client.post("/predict", json=CAR).json()["price"]
    assert out["YEAR"][0] == "1999"
    mapping = told(r)[1]
    assert mapping["year"] == "year" and mapping["YEAR"] is None


@pytest.mark.parametrize(
    ("mapping", "words"),
    [
        ("{Mileage: km_driven}", "not valid JSON"),
        ('["Mileage", "km_driven"]', "must be a JSON object"),
        ('{"KMs": 5}', "a string"),
        ('{"KMs": "odometer"}', "unknown column(s): odometer"),
        ('{"Kilometres": "km_driven"}', "doesn't have: Kilometres"),
        ('{"Mileage": "km_driven"}', "same field"),  # 'KMs' is guessed as km_driven too
        ('{"Mileage": null, "KMs": null}', "missing"),  # then nothing gives km_driven
    ],
    ids=[
        "bad-json",
        "not-object",
        "not-string",
        "unknown-target",
        "no-such-header",
        "clash",
        "required-ignored",
    ],  # fmt: skip
)
def test_bad_mappings_are_422_with_a_reason(client, mapping, words) -> None:  # noqa: ANN001
    for data in (csv_bytes(odometer_sheet()), odometer_sheet().to_csv(sep="|").encode()):
        r = post(client, data, mapping=mapping)
        assert r.status_code == 422, r.text
        assert words in r.json()["detail"]


def test_missing_columns_say_how_the_headers_were_read(client) -> None:  # noqa: ANN001
    r = post(client, b"Model Year;Odometer;Fuel Type;Notes\n2015;50000;Diesel;x\n")
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "missing column(s)" in detail
    assert "'Model Year' → year" in detail and "not used: 'Odometer'" not in detail
    assert "'Notes'" in detail and "`mapping`" in detail


@pytest.mark.parametrize("sep", [",", ";"], ids=["streamed", "read-whole"])
def test_selling_price_is_kept_and_never_priced_on(client, reference, sep) -> None:  # noqa: ANN001
    rupees = LISTINGS["selling_price"].map(lambda p: f"₹{int(p):,}")
    frame = RAW.assign(**{"Selling Price": rupees})
    r = post(client, frame.to_csv(sep=sep, index=False).encode())
    out = read_out(r)
    assert_same_prices(out, reference)
    assert out["Selling Price"].tolist() == rupees.tolist()
    assert told(r)[1]["Selling Price"] == "selling_price"


# ------------------------------------------------------------------ malformed lines, big files


def test_ragged_line_in_a_semicolon_file_keeps_its_place(client, reference) -> None:  # noqa: ANN001
    lines = decimal_commas(RAW).to_csv(sep=";", index=False).splitlines()
    lines[3] = ";".join(lines[3].split(";")[:5])  # data row 2 lost its last fields
    out = read_out(post(client, "\n".join(lines).encode()))
    assert len(out) == len(RAW)
    assert "fields, but the header has" in out["error"][2] and out["predicted_price"][2] == ""
    keep = [i for i in range(len(RAW)) if i != 2]
    pd.testing.assert_frame_equal(
        out[PRICES].iloc[keep].reset_index(drop=True), reference.iloc[keep].reset_index(drop=True)
    )


def test_file_read_whole_is_priced_in_chunks_in_order(client, settings_env) -> None:  # noqa: ANN001
    settings_env.setenv("CARPRICE_API_CSV_CHUNK_ROWS", "100")
    refresh_settings()
    rows = pd.DataFrame([{**CAR, "row": i, "km_driven": 1000 + i} for i in range(250)])
    lines = rows.to_csv(sep=";", index=False).splitlines()
    for data_row in (99, 100, 201):
        lines[data_row + 1] += ";extra"
    out = read_out(post(client, "\n".join(lines).encode()))
    assert out["row"].astype(int).tolist() == list(range(250))
    bad = out.index[out["error"] != ""].tolist()
    assert bad == [99, 100, 201]


# ------------------------------------------------------------------ unreadable files


def half_broken_workbook() -> bytes:
    """A zip that is a workbook, but with its sheet's XML cut in half."""
    good = zipfile.ZipFile(io.BytesIO(workbook()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        for name in good.namelist():
            data = good.read(name)
            out.writestr(name, data[: len(data) // 2] if "worksheets/sheet2" in name else data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (b"", "cars.csv", "empty"),
        (b"\n\n", "cars.csv", "empty"),
        (bytes(range(256)) * 40, "cars.csv", "binary data"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "cars.xls", "Excel 97"),
        (workbook()[:3000], "cars.xlsx", "not a readable Excel workbook"),
        (half_broken_workbook(), "cars.xlsx", "not a readable Excel workbook"),
        (",".join(CAR).encode() + b"\n", "cars.csv", "header but no cars"),
        (";".join(CAR).encode() + b"\n", "cars.csv", "header but no cars"),
        ("name,year\n".encode("utf-16"), "cars.csv", "header but no cars"),
        (b'name;year\n"Swift' + b"x" * 200_000 + b";2015\n", "cars.csv", "never closed"),
        (csv_bytes(pd.DataFrame([CAR] * 200 + [{**CAR, "name": "Sw\x00ft"}])), "c.csv", "NUL"),
    ],
    ids=[
        "empty",
        "blank-lines",
        "binary",
        "old-xls",
        "truncated-xlsx",
        "broken-xml-xlsx",
        "header-only",
        "header-only-semicolon",
        "header-only-utf16",
        "unclosed-quote",
        "nul-after-the-head",
    ],  # fmt: skip
)
def test_unreadable_files_are_400_saying_what_to_do(client, data, name, words) -> None:  # noqa: ANN001
    r = post(client, data, name)
    assert r.status_code == 400, r.text
    assert words in r.json()["detail"]


# ------------------------------------------------------------------ which files are streamed


@pytest.mark.parametrize(
    ("data", "plain"),
    [
        (b"name,year,km_driven,fuel\nSwift,2015,1,Diesel\n", True),
        (b"\xef\xbb\xbfname,year,km_driven,fuel\r\nSwift,2015,1,Diesel\r\n", True),
        (b"name;year;km_driven;fuel\nSwift;2015;1;Diesel\n", False),
        (b"Stock\nname,year,km_driven,fuel\nSwift,2015,1,Diesel\n", False),
        (b"name,year,km_driven,fuel,,\nSwift,2015,1,Diesel,,\n", False),  # Excel's stray commas
        (b"\nname,year,km_driven,fuel\nSwift,2015,1,Diesel\n", False),
        ("name,year,km_driven,fuel\nCitroën,2015,1,Diesel\n".encode("cp1252"), False),
        (b"name,year,km_driven,fuel\n", False),
    ],
    ids=[
        "plain",
        "bom-crlf",
        "semicolon",
        "title",
        "trailing-empty-headers",
        "blank-first",
        "cp1252",
        "header-only",
    ],  # fmt: skip
)
def test_only_plain_files_are_streamed(data: bytes, plain: bool) -> None:
    assert (plain_head(data, "cars.csv", "text/csv") is not None) is plain


def test_plain_is_decided_from_the_first_lines_only() -> None:
    body = "".join(f"car{i},{2000 + i % 20},{i},Diesel\n" for i in range(5000))
    raw = io.BytesIO(("name,year,km_driven,fuel\n" + body).encode())
    head = _head(raw)
    assert raw.tell() == 0 and head.count(b"\n") == 100 and head.endswith(b"\n")
    assert plain_head(head, "cars.csv", "text/csv").headers == ["name", "year", "km_driven", "fuel"]
    assert plain_head(head, "cars.xlsx", None) is None


def test_any_file_name_makes_a_safe_download_name(client) -> None:  # noqa: ANN001
    r = post(client, csv_bytes(pd.DataFrame([CAR])), 'स्टॉक "₹" März\\list.csv')
    assert r.status_code == 200, r.text
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="') and disposition.endswith('_priced.csv"')
    assert "₹" not in disposition and disposition.count('"') == 2


def test_a_file_read_whole_has_its_own_lower_cap(client, settings_env) -> None:  # noqa: ANN001
    settings_env.setenv("CARPRICE_API_MAX_SHEET_BYTES", "2048")
    refresh_settings()
    rows = pd.DataFrame([CAR] * 100)  # ~10 kB
    semicolon = rows.to_csv(index=False, sep=";").encode()
    r = post(client, semicolon)
    assert r.status_code == 413
    assert (
        "CARPRICE_API_MAX_SHEET_BYTES" in r.json()["detail"] and "CSV UTF-8" in r.json()["detail"]
    )
    assert post(client, csv_bytes(rows)).status_code == 200  # plain CSV streams past that cap
