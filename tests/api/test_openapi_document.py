"""The served OpenAPI document follows the model and the key setting (api.openapi)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from fastapi import FastAPI

from api import openapi
from api.config import get_api_settings
from api.main import create_app
from carprice.features import FeaturePipeline

BRANDS = ["honda", "land rover", "maruti", "mercedes-benz", "mini", "mini cooper"]


def pipeline(brands: list[str] = BRANDS, fuels: tuple[str, ...] = ("Diesel", "Petrol")):  # noqa: ANN201
    display = {b: b.title() if b != "mercedes-benz" else "Mercedes-Benz" for b in brands}
    vocab = {"brand": brands, "fuel": list(fuels), "seller_type": ["Dealer", "Individual"],
             "transmission": ["Automatic", "Manual"]}  # fmt: skip
    return FeaturePipeline(vocab=vocab, brand_display=display)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("Maruti Swift Dzire VDI", True), ("maruti", True), ("  HONDA City", True),
        ("Land Rover Discovery Sport", True), ("Mercedes-Benz E-Class", True),
        ("Mini Countryman", True), ("Mini Cooper S", True),
        ("Land Rover", False),  # read as brand "Land": unknown
        ("Mini Cooper", True),  # read as brand "Mini" with model "Cooper"
        ("Tesla Model 3", False), ("MarutiSwift", False), ("", False), ("   ", False),
    ],
)  # fmt: skip
def test_a_name_must_start_with_a_known_brand(name: str, ok: bool) -> None:
    pattern = re.compile(openapi.name_pattern(BRANDS))
    assert bool(pattern.search(name)) is ok


def _doc(app: FastAPI) -> dict:
    return app.openapi()


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.delenv("CARPRICE_API_KEY", raising=False)
    get_api_settings.cache_clear()
    application = create_app()
    application.state.runtime = SimpleNamespace(current=None)
    yield application
    get_api_settings.cache_clear()


def test_open_api_declares_no_key(app: FastAPI) -> None:
    doc = _doc(app)
    assert "securitySchemes" not in doc.get("components", {})
    predict = doc["paths"]["/predict"]["post"]
    assert "security" not in predict and "401" not in predict["responses"]
    assert {"400", "413", "422", "503"} <= set(predict["responses"])


def test_keyed_api_declares_the_key(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARPRICE_API_KEY", "a-test-key-123")
    get_api_settings.cache_clear()  # the key ring follows the settings object
    doc = _doc(app)
    assert "APIKeyHeader" in doc["components"]["securitySchemes"]
    assert "401" in doc["paths"]["/predict/csv"]["post"]["responses"]


def test_categories_follow_the_served_model(app: FastAPI) -> None:
    app.state.runtime.current = SimpleNamespace(version="3", model=SimpleNamespace(
        pipeline=pipeline()))  # fmt: skip
    car = _doc(app)["components"]["schemas"]["CarFeatures"]
    assert car["properties"]["fuel"]["enum"] == ["Diesel", "Petrol"]
    assert "Mercedes-Benz" in car["properties"]["brand"]["anyOf"][0]["enum"]
    spec = car["properties"]["mileage_kmpl"]["anyOf"]
    assert {"type": "number", "maximum": 0} in spec  # a placeholder, filled from the catalogue
    assert {"type": "number", "minimum": 3, "maximum": 60} in spec
    # A hot swap to a model that knows CNG: the document follows it.
    app.state.runtime.current = SimpleNamespace(version="4", model=SimpleNamespace(
        pipeline=pipeline(fuels=("CNG", "Diesel", "Petrol"))))  # fmt: skip
    car = _doc(app)["components"]["schemas"]["CarFeatures"]
    assert car["properties"]["fuel"]["enum"] == ["CNG", "Diesel", "Petrol"]


def test_without_a_model_only_static_rules(app: FastAPI) -> None:
    car = _doc(app)["components"]["schemas"]["CarFeatures"]
    assert "enum" not in car["properties"]["fuel"]
    assert len(car["allOf"]) == 1  # owner_rank or owner
