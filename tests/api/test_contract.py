"""Contract tests for every endpoint: the real app (lifespan included) against a real MLflow
server holding a model trained in this session."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from tests.api.conftest import CAR, REPO, csv_bytes, refresh_settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

OUTPUT = [
    "quote_id",
    "predicted_price",
    "price_low",
    "price_high",
    "model_version",
    "filled",
    "error",
]


def post_csv(client, data: bytes, name: str = "cars.csv"):  # noqa: ANN001, ANN201
    return client.post("/predict/csv", files={"file": (name, data, "text/csv")})


def read_csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


# ------------------------------------------------------------------ service


def test_health_and_root(client, champion) -> None:  # noqa: ANN001
    for path in ("/", "/health"):
        body = client.get(path).json()
        assert body["status"] == "ok"
        assert body["mlflow_reachable"] is True
        assert body["model_name"] == "car_price" and body["model_alias"] == "champion"
        assert body["model_version"]


def test_metrics_are_prometheus(client) -> None:  # noqa: ANN001
    client.post("/predict", json=CAR)
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert 'carprice_http_requests_total{method="POST",route="/predict",status="200"}' in r.text
    assert "carprice_model_loads_total" in r.text


def test_openapi_describes_the_model(client) -> None:  # noqa: ANN001
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/predict", "/predict/batch", "/predict/csv", "/model/info", "/health"):
        assert path in paths
    assert paths["/predict"]["post"]["summary"]
    car_schema = spec["components"]["schemas"]["CarFeatures"]
    assert car_schema["examples"][0]["name"] == "Maruti Swift Dzire VDI"
    assert car_schema["examples"][1]["brand"] == "Maruti"
    for path in ("/catalogue/brands", "/catalogue/{brand}/models"):
        assert paths[path]["get"]["summary"]
    assert car_schema["properties"]["year"]["minimum"] == 1980
    assert "UTF-8" in paths["/predict/csv"]["post"]["description"]


# ------------------------------------------------------------------ model


def test_model_info(client) -> None:  # noqa: ANN001
    info = client.get("/model/info").json()
    assert info["name"] == "car_price" and info["alias"] == "champion" and info["version"]
    assert info["trained_at"] and info["gate"]["verdict"] in ("promoted", "rejected")
    assert info["data"]["synthetic"] is True and info["data"]["train_rows"] > 100
    assert info["metrics"]["mae"] > 0 and 0 < info["interval_level"] < 1
    features = {f["name"]: f for f in info["features"]}
    assert features["year"]["min"] == 1980 and features["year"]["train_min"] >= 1980
    assert "Diesel" in features["fuel"]["allowed"]
    assert "Maruti" in features["brand"]["allowed"] and "Maruti" in info["brands"]
    assert "swift" in info["models_by_brand"]["Maruti"]
    assert features["torque_nm"]["required"] is False


def test_model_importance(client) -> None:  # noqa: ANN001
    body = client.get("/model/importance").json()
    assert body["model_version"] and set(body["importance"]) >= {"year", "km_driven", "brand"}


# ------------------------------------------------------------------ /predict


def test_predict_one_car(client) -> None:  # noqa: ANN001
    r = client.post("/predict", json=CAR)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["price_low"] < body["price"] < body["price_high"]
    assert body["model_version"] == client.get("/health").json()["model_version"]
    contrib = body["contributions"]
    total = contrib["base_price"] + sum(f["rupees"] for f in contrib["features"])
    assert total == pytest.approx(body["price"], abs=0.01)
    features = {f["feature"] for f in contrib["features"]}
    assert features == set(client.get("/model/importance").json()["importance"])
    assert {"year", "km_driven", "engine_cc", "te_variant", "tok_vdi"} <= features
    assert body["comparables"] and body["comparables"][0]["selling_price"] > 0
    assert body["warnings"] == []
    assert body["filled"] == {}  # every spec was given


# ------------------------------------------------------------------ quoting by identity

IDENTITY = {
    "year": 2015,
    "km_driven": 50000,
    "fuel": "Diesel",
    "seller_type": "Individual",
    "transmission": "Manual",
    "owner": "First Owner",
}
SPECS = ("mileage_kmpl", "engine_cc", "max_power_bhp", "torque_nm", "torque_rpm", "seats")


def test_a_car_by_its_name_alone_is_priced_with_its_variants_specs(client) -> None:  # noqa: ANN001
    by_name = client.post("/predict", json={**IDENTITY, "name": "Maruti Swift VDI"})
    assert by_name.status_code == 200, by_name.text
    body = by_name.json()
    assert set(body["filled"]) == set(SPECS) and set(body["filled"].values()) == {"variant"}
    variants = client.get("/catalogue/Maruti/Swift/variants").json()
    vdi = next(v for v in variants if v["variant"] == "VDI")
    given = {**IDENTITY, "name": "Maruti Swift VDI", **{s: vdi[s] for s in SPECS}}
    full = client.post("/predict", json=given).json()
    assert full["filled"] == {} and full["price"] == body["price"]  # the typical specs, exactly
    picked = {**IDENTITY, "brand": "maruti", "model": "Swift", "variant": "VDI"}
    assert client.post("/predict", json=picked).json()["price"] == body["price"]


def test_user_specs_win_and_placeholders_are_replaced_with_a_warning(client) -> None:  # noqa: ANN001
    car = {**IDENTITY, "name": "Maruti Swift VDI", "engine_cc": 1400, "mileage_kmpl": 0}
    body = client.post("/predict", json=car).json()
    assert "engine_cc" not in body["filled"] and body["filled"]["mileage_kmpl"] == "variant"
    placeholder = [w for w in body["warnings"] if w["feature"] == "mileage_kmpl"]
    assert placeholder and "not a possible value" in placeholder[0]["message"]
    assert (
        next(c for c in body["contributions"]["features"] if c["feature"] == "engine_cc")["value"]
        == 1400
    )


def test_an_unlisted_variant_falls_back_to_its_model(client) -> None:  # noqa: ANN001
    body = client.post("/predict", json={**IDENTITY, "name": "Maruti Swift Zeta Turbo"}).json()
    assert set(body["filled"].values()) == {"model"}


def test_identity_is_required(client) -> None:  # noqa: ANN001
    r = client.post("/predict", json=IDENTITY)
    assert r.status_code == 422 and "name, or its brand" in r.json()["detail"]
    r = client.post("/predict", json={**IDENTITY, "owner": None, "name": "Maruti Swift VDI"})
    assert r.status_code == 422 and "owner_rank" in r.json()["detail"]


def test_catalogue_browsing(client) -> None:  # noqa: ANN001
    brands = client.get("/catalogue/brands").json()
    maruti = next(b for b in brands if b["brand"] == "Maruti")
    assert maruti["models"] >= 4 and maruti["listings"] > 0
    models = client.get("/catalogue/maruti/models").json()
    swift = next(m for m in models if m["model"] == "Swift")
    assert swift["name"] == "Maruti Swift" and swift["engine_cc"] > 0 and swift["variants"] >= 5
    variants = client.get("/catalogue/MARUTI/swift/variants").json()
    assert {v["variant"] for v in variants} >= {"VDI", "ZXI"}
    assert all(v["listings"] > 0 and v["fuels"] for v in variants)
    missing = client.get("/catalogue/Marutti/models")
    assert missing.status_code == 404 and "did you mean: Maruti" in missing.json()["detail"]


def test_csv_with_identity_columns_only(client) -> None:  # noqa: ANN001
    text = (
        "name,year,km_driven,fuel,seller_type,transmission,owner\n"
        "Maruti Swift VDI,2015,50000,Diesel,Individual,Manual,First Owner\n"
        "Hyundai i20 Asta,2017,30000,Petrol,Dealer,Manual,Second Owner\n"
    )
    r = post_csv(client, text.encode())
    assert r.status_code == 200, r.text
    out = read_csv(r.text)
    assert (out["error"] == "").all() and (out["predicted_price"].astype(float) > 0).all()
    assert out.loc[0, "filled"].startswith("mileage_kmpl from variant")


def test_predict_flags_out_of_training_range(client) -> None:  # noqa: ANN001
    body = client.post("/predict", json={**CAR, "km_driven": 950_000}).json()
    assert [w["feature"] for w in body["warnings"]] == ["km_driven"]


@pytest.mark.parametrize(
    ("change", "field", "allowed"),
    [({"brand": "Tesla"}, "brand", "Maruti"), ({"fuel": "Electric"}, "fuel", "Diesel")],
)
def test_unknown_category_is_422_with_allowed_values(client, change, field, allowed) -> None:  # noqa: ANN001
    r = client.post("/predict", json={**CAR, **change})
    assert r.status_code == 422
    body = r.json()
    assert field in body["detail"] and allowed in body["detail"]
    assert allowed in body["errors"][0]["allowed"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"year": 1900}, "year"),  # out of range
        ({"km_driven": -5}, "km_driven"),
        ({"seats": "many"}, "seats"),  # wrong type
        ({"engine_cc": [1248]}, "engine_cc"),
        ({"colour": "red"}, "colour"),  # unknown field
    ],
)
def test_invalid_input_is_422_with_reason(client, change, field) -> None:  # noqa: ANN001
    r = client.post("/predict", json={**CAR, **change})
    assert r.status_code == 422
    body = r.json()
    assert field in body["detail"] and "Traceback" not in r.text


def test_missing_field_and_bad_json(client) -> None:  # noqa: ANN001
    car = {k: v for k, v in CAR.items() if k != "year"}
    r = client.post("/predict", json=car)
    assert r.status_code == 422 and "year" in r.json()["detail"]
    r = client.post("/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"]


def test_case_insensitive_categories(client) -> None:  # noqa: ANN001
    a = client.post("/predict", json=CAR).json()["price"]
    b = client.post("/predict", json={**CAR, "brand": "maruti", "fuel": "DIESEL"}).json()["price"]
    assert a == b


# ------------------------------------------------------------------ /predict/batch


def test_batch_one_bad_item_does_not_fail_the_others(client) -> None:  # noqa: ANN001
    items = [CAR, {**CAR, "brand": "Tesla"}, {**CAR, "year": "old"}, {**CAR, "km_driven": 10}]
    r = client.post("/predict/batch", json=items)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["priced"] == 2 and body["failed"] == 2
    results = body["items"]
    assert [i["index"] for i in results] == [0, 1, 2, 3]
    assert results[0]["price"] == client.post("/predict", json=CAR).json()["price"]
    assert "Tesla" in results[1]["error"] and "Maruti" in results[1]["error"]
    assert "year" in results[2]["error"]
    assert results[3]["price"] > 0


def test_batch_limit(client, settings_env) -> None:  # noqa: ANN001
    settings_env.setenv("CARPRICE_API_MAX_BATCH_ITEMS", "3")
    refresh_settings()
    r = client.post("/predict/batch", json=[CAR] * 4)
    assert r.status_code == 413 and "at most 3" in r.json()["detail"]


# ------------------------------------------------------------------ /predict/csv


def test_csv_features_shape_keeps_rows_order_and_extra_columns(client) -> None:  # noqa: ANN001
    rows = pd.DataFrame(
        [
            {**CAR, "Stock_ID": "A1"},
            {**CAR, "brand": "Tesla", "Stock_ID": "A2"},
            {**CAR, "year": 2019, "Stock_ID": "A3"},
        ]
    )
    rows.columns = [c.upper() if c in ("year", "brand") else c for c in rows.columns]
    r = post_csv(client, csv_bytes(rows))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.text.count("\r\n") == 4 == r.text.count("\n")  # RFC 4180 line ends throughout
    out = read_csv(r.text)
    assert list(out.columns) == [*rows.columns, *OUTPUT]
    assert out["Stock_ID"].tolist() == ["A1", "A2", "A3"]
    assert out["error"][0] == "" and "Tesla" in out["error"][1]
    assert out["predicted_price"][1] == ""
    single = client.post("/predict", json=CAR).json()
    assert float(out["predicted_price"][0]) == single["price"]
    assert set(out["model_version"]) == {single["model_version"]}


def test_csv_raw_listing_shape(client) -> None:  # noqa: ANN001
    data = (REPO / "data_samples" / "bad_rows.csv").read_bytes()
    r = post_csv(client, data)
    assert r.status_code == 200, r.text
    out = read_csv(r.text)
    source = read_csv(data.decode())
    assert len(out) == len(source)
    assert out["name"].str.lstrip("'").tolist() == source["name"].tolist()
    priced = out["error"] == ""
    assert priced.any() and (~priced).any()
    assert (out.loc[priced, "predicted_price"] != "").all()


def test_csv_formula_injection_is_neutralised(client) -> None:  # noqa: ANN001
    rows = pd.DataFrame([{**CAR, "note": '=HYPERLINK("http://x")', "other": "@SUM(A1)"}])
    out = read_csv(post_csv(client, csv_bytes(rows)).text)
    assert out["note"][0].startswith("'=") and out["other"][0].startswith("'@")
    for col in out.columns:
        assert not out[col].str.match(r"^[=+\-@\t\r]").any(), col


def test_csv_streams_many_chunks(client, settings_env) -> None:  # noqa: ANN001
    settings_env.setenv("CARPRICE_API_CSV_CHUNK_ROWS", "100")
    refresh_settings()
    rows = pd.DataFrame([{**CAR, "row": i, "km_driven": 1000 + i} for i in range(1050)])
    r = post_csv(client, csv_bytes(rows))
    assert r.status_code == 200
    out = read_csv(r.text)
    assert out["row"].astype(int).tolist() == list(range(1050))
    assert (out["error"] == "").all()


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (b"", 400, "empty"),
        (b"\n\n", 400, "empty"),
        (b"year,Year,km_driven\n2015,2015,1\n", 422, "missing"),
        (b"year,km_driven,fuel\n2015,1000,Diesel\n", 422, "missing"),
        (",".join(CAR).encode() + b"\n", 400, "header but no cars"),
    ],
    ids=["empty", "blank-lines", "duplicated-headers", "missing-columns", "0-rows"],
)
def test_csv_rejected_files(client, data, status, words) -> None:  # noqa: ANN001
    r = post_csv(client, data)
    assert r.status_code == status, r.text
    assert words.lower() in r.json()["detail"].lower()


def test_csv_without_file_field(client) -> None:  # noqa: ANN001
    r = client.post("/predict/csv", data={"x": "1"})
    assert r.status_code == 422 and "file" in r.json()["detail"]


def test_csv_oversize_is_413(client, settings_env) -> None:  # noqa: ANN001
    settings_env.setenv("CARPRICE_API_MAX_CSV_BYTES", "2048")
    refresh_settings()
    rows = pd.DataFrame([CAR] * 100)  # ~10 kB
    r = post_csv(client, csv_bytes(rows))
    assert r.status_code == 413 and "2,048" in r.json()["detail"]
    small = post_csv(client, csv_bytes(rows.head(3)))
    assert small.status_code == 200


# ------------------------------------------------------------------ API key


def test_api_key_when_configured(client, settings_env) -> None:  # noqa: ANN001
    settings_env.setenv("CARPRICE_API_KEY", "s3cret")
    refresh_settings()
    assert client.post("/predict", json=CAR).status_code == 401
    wrong = client.post("/predict", json=CAR, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401 and "X-API-Key" in wrong.json()["detail"]
    assert client.post("/predict", json=CAR, headers={"X-API-Key": "s3cret"}).status_code == 200
    assert client.post("/predict/batch", json=[CAR]).status_code == 401
    assert client.get("/health").status_code == 200
    assert client.get("/model/info").status_code == 200
