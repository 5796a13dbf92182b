"""Quote ids on every priced row, the quote log behind them, and the sale endpoints, through
the real app (lifespan included) on a SQLite quote log in a temp folder."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from carprice.quotelog.sales import latest_today
from tests.api.conftest import CAR, Champion, api_env

TODAY = date.today().isoformat()


@pytest.fixture(scope="module")
def logged(champion: Champion, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """(client, quote log) with the quote log in a temp SQLite file."""
    from fastapi.testclient import TestClient

    from api.main import create_app

    base = tmp_path_factory.mktemp("quotelog")
    env = {
        "CARPRICE_DATABASE_URL": f"sqlite:///{base / 'carprice.db'}",
        "CARPRICE_QUOTE_SPOOL_DIR": str(base / "spool"),
        "CARPRICE_QUOTE_FLUSH_SECONDS": "0.1",
    }
    with api_env(champion.url, **env), TestClient(create_app()) as client:
        yield client, client.app.state.quote_log


def _stored(quote_log, quote_id: str) -> dict:  # noqa: ANN001
    assert quote_log.writer.flush(10)
    row = quote_log.store.get_quote(quote_id)
    assert row is not None, quote_id
    return row


def test_predict_returns_a_logged_quote_id(logged) -> None:  # noqa: ANN001
    client, quote_log = logged
    car = {k: v for k, v in CAR.items() if k not in ("engine_cc", "torque_nm")}
    answer = client.post("/predict", json=car).json()
    quote_id = answer["quote_id"]
    assert uuid.UUID(quote_id).version == 4
    row = _stored(quote_log, quote_id)
    assert row["source"] == "predict" and row["api_key_name"] is None
    assert row["model_version"] == answer["model_version"]
    assert (row["price"], row["price_low"], row["price_high"]) == (
        answer["price"], answer["price_low"], answer["price_high"],
    )  # fmt: skip
    # the inputs as priced: the specs the catalogue filled are there
    assert row["inputs"]["brand"] == "Maruti" and row["inputs"]["engine_cc"] is not None
    assert row["warnings"] == answer["warnings"]


def test_batch_items_get_ids_failed_ones_null(logged) -> None:  # noqa: ANN001
    client, quote_log = logged
    cars = [CAR, {**CAR, "brand": "Tesla"}, {**CAR, "year": "x"}, {**CAR, "year": 1985}]
    body = client.post("/predict/batch", json=cars).json()
    ids = [item["quote_id"] for item in body["items"]]
    assert ids[0] and ids[3] and ids[1] is None and ids[2] is None
    assert len(set(ids[::3])) == 2
    rows = [_stored(quote_log, q) for q in (ids[0], ids[3])]
    assert {r["source"] for r in rows} == {"batch"}
    assert rows[0]["price"] == body["items"][0]["price"]
    assert any(w.get("train_min") is not None for w in rows[1]["warnings"])  # 1985: out of range


def _csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CAR))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


@pytest.mark.parametrize("kind", ["streamed", "read whole"])
def test_csv_has_a_quote_id_column(logged, kind: str) -> None:  # noqa: ANN001
    client, quote_log = logged
    data = _csv([CAR, {**CAR, "brand": "Tesla"}, {**CAR, "km_driven": 12}])
    if kind == "read whole":
        data = data.replace(b",", b";")  # semicolons: read by carprice.sheets, not streamed
    response = client.post("/predict/csv", files={"file": ("cars.csv", data, "text/csv")})
    assert response.status_code == 200, response.text
    out = list(csv.DictReader(io.StringIO(response.text)))
    assert list(out[0])[-7:] == ["quote_id", "predicted_price", "price_low", "price_high",
                                 "model_version", "filled", "error"]  # fmt: skip
    assert out[1]["quote_id"] == "" and out[1]["error"]
    for priced in (out[0], out[2]):
        row = _stored(quote_log, priced["quote_id"])
        assert row["source"] == "csv" and row["price"] == float(priced["predicted_price"])


def test_csv_rows_store_the_warnings_their_single_quote_gives(logged) -> None:  # noqa: ANN001
    """A CSV row outside the training range, or with a placeholder spec, is logged with the
    warnings `/predict` gives the same car; a plain row with none."""
    client, quote_log = logged
    cars = [
        CAR,
        {**CAR, "year": 1985},
        {**CAR, "mileage_kmpl": 0},
        {**CAR, "year": 1985, "engine_cc": 0},
    ]
    response = client.post("/predict/csv", files={"file": ("cars.csv", _csv(cars), "text/csv")})
    assert response.status_code == 200, response.text
    out = list(csv.DictReader(io.StringIO(response.text)))
    stored = [_stored(quote_log, row["quote_id"])["warnings"] for row in out]
    for car, warnings in zip(cars, stored, strict=True):
        single = client.post("/predict", params={"record": "false"}, json=car).json()
        # the same warnings (a number's spelling in the message follows the input: "0" in a
        # CSV cell, 0.0 once JSON's 0 is read as a float)
        assert [(w["feature"], w["value"]) for w in warnings] == [
            (w["feature"], w["value"]) for w in single["warnings"]
        ]
    assert stored[0] == [] and all(stored[1:])


def test_key_name_is_recorded_when_a_key_is_set(logged, settings_env) -> None:  # noqa: ANN001
    client, quote_log = logged
    settings_env.setenv("CARPRICE_API_KEY", "k" * 32)
    from tests.api.conftest import refresh_settings

    refresh_settings()
    assert client.post("/predict", json=CAR).status_code == 401
    assert (
        client.post("/quotes/sales", files={"file": ("s.csv", b"x", "text/csv")}).status_code == 401
    )
    answer = client.post("/predict", json=CAR, headers={"X-API-Key": "k" * 32}).json()
    assert _stored(quote_log, answer["quote_id"])["api_key_name"] == "default"


def test_sale_lifecycle(logged) -> None:  # noqa: ANN001
    client, quote_log = logged
    quote_id = client.post("/predict", json=CAR).json()["quote_id"]
    # sold at once: the quote may still be in the writer's queue
    sale = {"sale_price": 455_000, "sold_on": TODAY}
    first = client.post(f"/quotes/{quote_id}/sale", json=sale)
    assert first.status_code == 201, first.text
    assert first.json()["sale_price"] == 455_000 and first.json()["history"] == []
    again = client.post(f"/quotes/{quote_id}/sale", json=sale)
    assert again.status_code == 409 and "PUT" in again.json()["detail"]
    fixed = client.put(f"/quotes/{quote_id}/sale", json={**sale, "sale_price": 460_000})
    assert fixed.status_code == 200
    body = fixed.json()
    assert body["sale_price"] == 460_000 and body["history"][0]["sale_price"] == 455_000
    assert quote_log.store.get_sale(quote_id)["sale_price"] == 460_000


def test_single_sale_refusals(logged) -> None:  # noqa: ANN001
    client, _ = logged
    quote_id = client.post("/predict", json=CAR).json()["quote_id"]
    unknown = client.post(f"/quotes/{uuid.uuid4()}/sale", json={"sale_price": 1, "sold_on": TODAY})
    assert unknown.status_code == 404 and "No quote" in unknown.json()["detail"]
    zero = client.post(f"/quotes/{quote_id}/sale", json={"sale_price": 0, "sold_on": TODAY})
    assert zero.status_code == 422 and "sale_price" in zero.json()["detail"]
    assert "greater than 0" in zero.json()["detail"]  # the schema says so too (OpenAPI)
    future = (latest_today() + timedelta(days=3)).isoformat()
    late = client.post(f"/quotes/{quote_id}/sale", json={"sale_price": 5, "sold_on": future})
    assert late.status_code == 422 and "future" in late.json()["detail"]
    bad_date = client.post(f"/quotes/{quote_id}/sale", json={"sale_price": 5, "sold_on": "soon"})
    assert bad_date.status_code == 422
    no_sale = client.put(f"/quotes/{quote_id}/sale", json={"sale_price": 5, "sold_on": TODAY})
    assert no_sale.status_code == 404 and "POST" in no_sale.json()["detail"]


def test_sales_csv_answers_every_row(logged) -> None:  # noqa: ANN001
    client, quote_log = logged
    ids = [
        item["quote_id"] for item in client.post("/predict/batch", json=[CAR] * 3).json()["items"]
    ]
    lines = [
        "quote_id,sale_price,sold_on,notes",
        f"{ids[0]},450000,{TODAY},ok",
        f"{ids[1]},-3,{TODAY},negative",
        f"{uuid.uuid4()},450000,{TODAY},unknown",
        f"{ids[0]},451000,{TODAY},second sale",
        f'{ids[2]},"4,40,000",{TODAY},Indian grouping',
    ]
    data = ("\n".join(lines) + "\n").encode()
    response = client.post("/quotes/sales", files={"file": ("sales.csv", data, "text/csv")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["recorded"], body["refused"]) == (2, 3)
    assert [r["status"] for r in body["rows"]] == [
        "recorded", "refused", "refused", "refused", "recorded",
    ]  # fmt: skip
    assert [r["row"] for r in body["rows"]] == [1, 2, 3, 4, 5]
    assert "unknown" in body["rows"][2]["reason"]
    assert quote_log.store.get_sale(ids[2])["sale_price"] == 440_000


def test_sales_csv_file_refusals(logged) -> None:  # noqa: ANN001
    client, _ = logged
    missing = client.post(
        "/quotes/sales", files={"file": ("s.csv", b"quote,price\nx,1\n", "text/csv")}
    )
    assert missing.status_code == 422 and "sold_on" in missing.json()["detail"]
    empty = client.post("/quotes/sales", files={"file": ("s.csv", b"", "text/csv")})
    assert empty.status_code == 400


def test_openapi_documents_ids_and_sale_statuses(logged) -> None:  # noqa: ANN001
    client, _ = logged
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert "quote_id" in schemas["Prediction"]["required"]
    assert "quote_id" in schemas["BatchItem"]["properties"]
    post = spec["paths"]["/quotes/{quote_id}/sale"]["post"]["responses"]
    assert {"201", "404", "409", "422", "503"} <= set(post)  # 401 only when a key is set
    put = spec["paths"]["/quotes/{quote_id}/sale"]["put"]["responses"]
    assert {"200", "404", "422", "503"} <= set(put)
    upload = spec["paths"]["/quotes/sales"]["post"]["responses"]
    assert {"200", "400", "413", "422", "503"} <= set(upload)
    for responses in (post, put, upload):
        for status, answer in responses.items():
            assert "content" in answer, status  # every status has its body


def test_database_outage_is_a_503_and_quotes_still_work(champion: Champion, tmp_path: Path) -> None:
    """A PostgreSQL URL nobody listens on: pricing works (rows spooled), sales say 503."""
    from fastapi.testclient import TestClient

    from api.main import create_app
    from stack.ports import free_port

    env = {
        "CARPRICE_DATABASE_URL": f"postgresql+psycopg2://x@127.0.0.1:{free_port()}/carprice",
        "CARPRICE_QUOTE_SPOOL_DIR": str(tmp_path / "spool"),
        "CARPRICE_QUOTE_FLUSH_SECONDS": "0.1",
    }
    with api_env(champion.url, **env), TestClient(create_app()) as client:
        answer = client.post("/predict", json=CAR)
        assert answer.status_code == 200
        sale = client.post(
            f"/quotes/{answer.json()['quote_id']}/sale", json={"sale_price": 1, "sold_on": TODAY}
        )
        assert sale.status_code == 503 and "can't be reached" in sale.json()["detail"]
    spooled = sum(1 for f in (tmp_path / "spool").glob("*.jsonl") for _ in f.open())
    assert spooled == 1
