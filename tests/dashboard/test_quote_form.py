"""Quote form against a fake pricing API: catalogue pickers, spec pre-fill, what is sent.

The fake (served on loopback by tests/dashboard/fake_http.py) knows a small catalogue and
records every request, so each test can check the exact JSON the page posted to /predict:
a car quoted by its name alone carries no specs; a spec the user changed is sent as given.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from streamlit.testing.v1.element_tree import Selectbox, WidgetState

from dashboard import pricing, quote_answer, quote_form
from tests.dashboard import fake_http
from tests.dashboard.conftest import app_env, page_text

SPECS = ("mileage_kmpl", "engine_cc", "max_power_bhp", "torque_nm", "torque_rpm", "seats")
USE = {"year", "km_driven", "fuel", "seller_type", "transmission", "owner_rank"}


def _entry(name: str, listings: int, fuel: str, transmission: str, *specs: float) -> dict:
    return {
        "name": name, "listings": listings, "year_min": 2008, "year_max": 2019, "fuel": fuel,
        "transmission": transmission, **dict(zip(SPECS, specs, strict=True)),
    }  # fmt: skip


SWIFT = {"model": "Swift", **_entry("Maruti Swift", 300, "Petrol", "Manual",
                                    20.4, 1197, 81.8, 113, 4200, 5)}  # fmt: skip
ALTO = {"model": "Alto", **_entry("Maruti Alto", 200, "Petrol", "Manual",
                                  20.9, 796, 47.3, 69, 3500, 5)}  # fmt: skip
I20 = {"model": "i20", **_entry("Hyundai i20", 90, "Petrol", "Manual",
                                18.6, 1197, 81.86, 114.7, 4000, 5)}  # fmt: skip
VARIANTS = {
    ("maruti", "swift"): [
        {
            "variant": "VXI",
            **_entry("Maruti Swift VXI", 80, "Petrol", "Manual", 20.4, 1197, 83.14, 113, 4200, 5),
        },  # fmt: skip
        {
            "variant": "Dzire VDI",
            **_entry(
                "Maruti Swift Dzire VDI", 120, "Diesel", "Manual", 23.4, 1248, 74, 190, 2000, 5
            ),
        },  # fmt: skip
        {
            "variant": "AMT ZXI",
            **_entry(
                "Maruti Swift AMT ZXI", 5, "Petrol", "Automatic", 22.0, 1197, 81.8, None, None, 5
            ),
        },  # fmt: skip
    ],
    ("maruti", "alto"): [
        {
            "variant": "LXI",
            **_entry("Maruti Alto LXI", 60, "Petrol", "Manual", 19.7, 796, 46.3, 62, 3000, 5),
        },  # fmt: skip
    ],
    ("hyundai", "i20"): [
        {
            "variant": "Asta",
            **_entry("Hyundai i20 Asta", 30, "Petrol", "Manual", 18.6, 1197, 81.86, 114.7, 4000, 5),
        },  # fmt: skip
    ],
}
MODELS = {"maruti": [ALTO, SWIFT], "hyundai": [I20]}


def _feature(name: str, low: float | None = None, high: float | None = None, **kw: Any) -> dict:
    return {"name": name, "min": low, "max": high, "description": name, **kw}


INFO = {
    "version": "7",
    "interval_level": 0.8,
    "metrics": {"mae": 66000.0, "median_ape": 0.1},
    "brands": ["Hyundai", "Maruti", "Tata"],
    "models_by_brand": {},
    "example": {
        "name": "Maruti Swift Dzire VDI",
        "year": 2014,
        "km_driven": 145500,
        "fuel": "Diesel",
        "seller_type": "Individual",
        "transmission": "Manual",
        "owner_rank": 1,
    },  # fmt: skip
    "features": [
        _feature("year", 1980, 2027, train_min=1995, train_max=2020, train_median=2014),
        _feature("km_driven", 0, 1_000_000, train_min=1000, train_max=500_000),
        _feature("owner_rank", 0, 4, train_min=0, train_max=4),
        _feature("fuel", allowed=["CNG", "Diesel", "LPG", "Petrol"]),
        _feature("seller_type", allowed=["Dealer", "Individual", "Trustmark Dealer"]),
        _feature("transmission", allowed=["Automatic", "Manual"]),
        _feature("mileage_kmpl", 3, 60),
        _feature("engine_cc", 500, 7000),
        _feature("max_power_bhp", 20, 800),
        _feature("torque_nm", 30, 1200),
        _feature("torque_rpm", 500, 9000),
        _feature("seats", 2, 14),
    ],
}


@dataclass
class FakeApi:
    """/health, /model/*, /catalogue/*, /predict and /predict/batch over a small catalogue."""

    version: str = "7"
    catalogue: bool = True  # False: an API (or model) without a catalogue answers 404
    extra_warnings: list[dict] = field(default_factory=list)
    bodies: list[dict] = field(default_factory=list)  # JSON posted to /predict, in order
    gets: list[str] = field(default_factory=list)  # catalogue paths read

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/health":
            return httpx.Response(200, json={"status": "ok", "model_version": self.version})
        if path == "/model/info":
            return httpx.Response(200, json={**INFO, "version": self.version})
        if path == "/model/importance":
            return httpx.Response(200, json={"importance": {"year": 0.3, "engine_cc": 0.2}})
        if path.startswith("/catalogue/"):
            self.gets.append(path)
            return self._catalogue(path.removeprefix("/catalogue/").lower().split("/"))
        if path == "/predict":
            car = json.loads(request.content)
            self.bodies.append(car)
            return httpx.Response(200, json=self._quote(car))
        if path == "/predict/batch":
            cars = json.loads(request.content)
            items = [{"index": i, **self._quote(c)} for i, c in enumerate(cars)]
            return httpx.Response(200, json={"model_version": self.version, "items": items})
        return httpx.Response(404, json={"detail": f"fake: no route {path}"})

    def _catalogue(self, parts: list[str]) -> httpx.Response:
        if not self.catalogue:
            return httpx.Response(404, json={"detail": "Not Found"})
        if parts == ["brands"]:
            brands = [{"brand": "Hyundai", "models": 1, "listings": 90},
                      {"brand": "Maruti", "models": 2, "listings": 500}]  # fmt: skip
            return httpx.Response(200, json=brands)
        if len(parts) == 2 and parts[0] in MODELS:
            return httpx.Response(200, json=MODELS[parts[0]])
        if len(parts) == 3 and tuple(parts[:2]) in VARIANTS:
            return httpx.Response(200, json=VARIANTS[tuple(parts[:2])])
        return httpx.Response(404, json={"detail": f"{parts[0]!r} is not in the catalogue"})

    def _quote(self, car: dict) -> dict:
        """Price from km and year; specs left out are filled like the API does (variant,
        else model), with their level in `filled` and their value in the contributions."""
        brand, model = (car.get("brand") or "").lower(), (car.get("model") or "").lower()
        model_entry = next((m for m in MODELS.get(brand, []) if m["model"].lower() == model), {})
        variant = quote_form.find_variant(VARIANTS.get((brand, model), []), car.get("variant"))
        values, filled = {}, {}
        for spec in SPECS:
            if spec in car:
                values[spec] = car[spec]
                continue
            level, value = next(
                ((lv, e[spec]) for lv, e in (("variant", variant), ("model", model_entry))
                 if e and e.get(spec) is not None), (None, None),
            )  # fmt: skip
            if level:
                values[spec], filled[spec] = value, level
        price = 800_000 - 2 * car["km_driven"] + 20_000 * (car["year"] - 2010)
        features = [{"feature": k, "value": v, "rupees": 0.0} for k, v in values.items()]
        return {
            "price": price, "price_low": price * 0.8, "price_high": price * 1.25,
            "interval_level": 0.8, "currency": "INR", "model_version": self.version,
            "contributions": {"base_value_log": 13.0, "base_price": price, "log_price": 13.0,
                              "features": features},
            "filled": filled, "comparables": [], "warnings": list(self.extra_warnings),
        }  # fmt: skip


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi()
    with app_env(fake_http.serve(fake).url):
        yield fake


@pytest.fixture
def typed_options(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let AppTest send a selectbox value that isn't among its options, as the browser does
    for `accept_new_options=True` (the typed text itself); AppTest only knows listed ones."""
    listed = Selectbox._widget_state

    def state(self: Selectbox) -> WidgetState:
        formatted = self.format_func(self.value) if self.value is not None else None
        if formatted is None or formatted in self.options:
            return listed.fget(self)
        ws = WidgetState()
        ws.id, ws.string_value = self.id, formatted
        return ws

    monkeypatch.setattr(Selectbox, "_widget_state", property(state))


def specs_in_form(at) -> dict:  # noqa: ANN001
    return {s: at.number_input(key=f"quote_{s}").value for s in SPECS}


def submit(at) -> None:  # noqa: ANN001
    at.form_submit_button(key="quote_submit").click().run()
    assert not at.exception, [e.message for e in at.exception]


def assumed_text(at) -> str:  # noqa: ANN001
    return " ".join(i.value for i in at.info if "Assumed from" in i.value)


def test_pickers_follow_the_catalogue_and_reset_below(apptest, api: FakeApi) -> None:
    at = apptest("quote").run()
    assert not at.exception and not at.error
    brand, model, variant = (at.selectbox(key=f"quote_{k}") for k in ("brand", "model", "variant"))
    assert brand.options == ["Hyundai", "Maruti"] and brand.value == "Maruti"
    assert model.options == ["Alto", "Swift"] and model.value == "Swift"
    # The example car, as listed; variants most listed first (what a search offers first).
    assert variant.value == "Dzire VDI"
    assert variant.options == ["Dzire VDI", "VXI", "AMT ZXI"]
    assert "Maruti Swift Dzire VDI" in " ".join(c.value for c in at.caption)

    # A new model clears the variant; its own variants are offered.
    at.selectbox(key="quote_model").set_value("Alto").run()
    assert at.selectbox(key="quote_variant").value is None
    assert at.selectbox(key="quote_variant").options == ["LXI"]
    assert "priced as a typical **Maruti Alto**" in " ".join(c.value for c in at.caption)
    at.selectbox(key="quote_variant").set_value("LXI").run()

    # A new brand clears model and variant; no price until a model is chosen.
    at.selectbox(key="quote_brand").set_value("Hyundai").run()
    assert not at.exception
    assert at.selectbox(key="quote_model").value is None
    assert at.selectbox(key="quote_model").options == ["i20"]
    assert at.selectbox(key="quote_variant").value is None
    assert at.selectbox(key="quote_variant").disabled
    assert at.form_submit_button(key="quote_submit").disabled
    at.selectbox(key="quote_model").set_value("i20").run()
    assert not at.form_submit_button(key="quote_submit").disabled
    assert at.selectbox(key="quote_variant").options == ["Asta"]


def test_specs_are_filled_from_the_variant_and_again_on_change(apptest, api: FakeApi) -> None:
    at = apptest("quote").run()
    assert specs_in_form(at) == {"mileage_kmpl": 23.4, "engine_cc": 1248, "max_power_bhp": 74.0,
                                 "torque_nm": 190.0, "torque_rpm": 2000.0, "seats": 5}  # fmt: skip
    assert at.selectbox(key="quote_fuel").value == "Diesel"  # the variant's usual fuel
    assert "1,248 cc · 74 bhp · 23.4 km/l" in at.get("expander")[0].proto.label
    at.number_input(key="quote_engine_cc").set_value(1300)
    at.selectbox(key="quote_variant").set_value("VXI").run()
    # Filled again from the new variant, overwriting the edit; fuel follows the variant.
    assert specs_in_form(at) == {"mileage_kmpl": 20.4, "engine_cc": 1197, "max_power_bhp": 83.1,
                                 "torque_nm": 113.0, "torque_rpm": 4200.0, "seats": 5}  # fmt: skip
    assert at.selectbox(key="quote_fuel").value == "Petrol"
    # A spec the variant doesn't know comes from its model.
    at.selectbox(key="quote_variant").set_value("AMT ZXI").run()
    assert at.number_input(key="quote_torque_nm").value == 113.0
    assert at.selectbox(key="quote_transmission").value == "Automatic"


def test_alto_after_swift_dzire_is_priced_as_an_alto(apptest, api: FakeApi) -> None:
    """The bug behind the pickers: the previous model's 1,248 cc and 74 bhp went along."""
    at = apptest("quote").run()
    submit(at)
    at.selectbox(key="quote_model").set_value("Alto").run()
    assert at.number_input(key="quote_engine_cc").value == 796
    assert at.number_input(key="quote_max_power_bhp").value == 47.3
    submit(at)
    sent = api.bodies[-1]
    assert sent["model"] == "Alto" and "variant" not in sent
    assert not set(SPECS) & set(sent)
    assert "engine 796 cc" in assumed_text(at) and "1,248" not in assumed_text(at)
    assert "Maruti Alto" in [h.value for h in at.subheader]


def test_a_car_by_name_alone_sends_no_specs_and_names_those_assumed(apptest, api: FakeApi) -> None:
    at = apptest("quote").run()
    submit(at)
    assert not at.error
    sent = api.bodies[-1]
    assert set(sent) == {"brand", "model", "variant"} | USE
    assert (sent["brand"], sent["model"], sent["variant"]) == ("Maruti", "Swift", "Dzire VDI")
    text = assumed_text(at)
    assert text.startswith("**Assumed from the variant's typical specs:**")
    for shown in ("mileage 23.4 km/l", "engine 1,248 cc", "power 74 bhp", "torque 190 Nm",
                  "torque peak at 2,000 rpm", "5 seats"):  # fmt: skip
        assert shown in text
    assert "Maruti Swift Dzire VDI" in [h.value for h in at.subheader]


def test_a_changed_spec_is_sent_as_given(apptest, api: FakeApi) -> None:
    at = apptest("quote").run()
    at.number_input(key="quote_max_power_bhp").set_value(90.0)
    submit(at)
    sent = api.bodies[-1]
    assert sent["max_power_bhp"] == 90.0
    assert set(SPECS) & set(sent) == {"max_power_bhp"}
    text = assumed_text(at)
    assert "power" not in text.replace("torque", "") and "engine 1,248 cc" in text


def test_a_variant_that_isnt_listed_can_be_typed(apptest, api: FakeApi, typed_options) -> None:
    at = apptest("quote").run()
    at.selectbox(key="quote_variant").set_value("Dzire VDI Tour Special").run()
    assert not at.exception
    assert at.selectbox(key="quote_variant").value == "Dzire VDI Tour Special"
    assert "isn't in the catalogue" in " ".join(c.value for c in at.caption)
    assert at.number_input(key="quote_engine_cc").value == 1197  # the Swift's typical
    submit(at)
    assert api.bodies[-1]["variant"] == "Dzire VDI Tour Special"
    assert not set(SPECS) & set(api.bodies[-1])
    assert "Assumed from the model's typical specs" in assumed_text(at)
    # Typed in another case, or as the full name: that is the listed variant.
    at.selectbox(key="quote_variant").set_value("maruti swift vxi").run()
    assert at.selectbox(key="quote_variant").value == "VXI"
    assert at.number_input(key="quote_max_power_bhp").value == 83.1


def test_replaced_placeholders_and_range_warnings_are_shown(apptest, api: FakeApi) -> None:
    api.extra_warnings = [
        {"feature": "engine_cc", "value": 0.0, "train_min": None, "train_max": None,
         "message": "engine_cc 0 is not a possible value; priced with the variant's typical "
                    "1248 instead"},
        {"feature": "km_driven", "value": 900000, "train_min": 1000, "train_max": 500000,
         "message": "km_driven 900000 is outside the training range 1000–500000"},
    ]  # fmt: skip
    at = apptest("quote").run()
    submit(at)
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("**Not a possible value, replaced:** Engine 0 cc") for w in warnings)
    assert any(
        w.startswith("**Outside the cars the model learned from:** Kilometres driven 9,00,000 km")
        and "(1,000 km – 5,00,000 km)" in w
        for w in warnings
    )
    assert not any("km_driven" in w or "engine_cc" in w for w in warnings)
    # The API's own words are one click away.
    assert "km_driven 900000" in page_text(at)


def test_catalogue_lists_are_cached_per_model_version(apptest, api: FakeApi) -> None:
    at = apptest("quote").run()
    submit(at)
    at.run()
    assert api.gets.count("/catalogue/brands") == 1
    assert api.gets.count("/catalogue/Maruti/models") == 1
    at.selectbox(key="quote_model").set_value("Alto").run()
    at.number_input(key="quote_km_driven").set_value(63_000)
    submit(at)
    assert api.gets.count("/catalogue/brands") == 1
    api.version = "8"  # a new champion goes live while the form is being filled in
    pricing.health.clear()  # /health is cached for 5 s; the page sees version 8 at once
    at.run()
    assert not at.exception
    assert api.gets.count("/catalogue/brands") == 2  # its catalogue is read
    # What the salesperson entered stays: the car they picked and the km they typed.
    assert at.selectbox(key="quote_model").value == "Alto"
    submit(at)
    sent = api.bodies[-1]
    assert (sent["model"], sent["km_driven"], api.version) == ("Alto", 63_000, "8")


def test_without_a_catalogue_the_brand_alone_prices(apptest, api: FakeApi) -> None:
    api.catalogue = False
    at = apptest("quote").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="quote_brand").options == INFO["brands"]
    assert at.selectbox(key="quote_model").options == []
    submit(at)
    assert api.bodies[-1]["brand"] == "Maruti" and "model" not in api.bodies[-1]


@pytest.mark.parametrize(
    ("filled", "expected"),
    [
        ({}, []),
        (
            {"engine_cc": "variant", "seats": "model_line", "torque_nm": "brand"},
            [
                "**Assumed from the variant's typical specs:** engine 1,248 cc.",
                "**Assumed from the model line's typical specs:** 5 seats.",
                "**Assumed from the brand's typical specs:** torque 190 Nm.",
            ],
        ),
    ],
)
def test_assumed_lines_name_level_and_value(filled: dict, expected: list[str]) -> None:
    values = {"engine_cc": 1248.0, "seats": 5.0, "torque_nm": 190.0}
    result = {
        "filled": filled,
        "contributions": {"features": [{"feature": k, "value": v} for k, v in values.items()]},
    }
    assert quote_answer.assumed(result) == expected


@pytest.mark.parametrize(
    ("example", "brand"),
    [
        ({"name": "Maruti Swift Dzire VDI"}, "Maruti"),
        ({"name": "land rover Freelander 2 TD4 HSE"}, "Land Rover"),  # the longest brand wins
        ({"brand": "maruti", "model": "Swift"}, "Maruti"),
        ({"name": "Tesla Model 3"}, None),
        ({}, None),
    ],
)
def test_the_example_cars_brand_comes_from_its_name(example: dict, brand: str | None) -> None:
    assert quote_form.named_brand(example, ["Ambassador", "Land", "Land Rover", "Maruti"]) == brand


def test_the_previous_cars_specs_submitted_in_a_race_are_not_taken_as_typed() -> None:
    """A price asked in the instant after a variant change submits the fields the browser
    still holds: all the previous car's typical values. They were never typed."""
    swift = {"engine_cc": 1197, "max_power_bhp": 84.5, "mileage_kmpl": 18.4, "seats": 5}
    asta = {"engine_cc": 1197, "max_power_bhp": 86.9, "mileage_kmpl": 18.5, "seats": 5}
    full = {c: None for c in quote_form.SPEC_COLUMNS}
    assert quote_form.edited({**full, **swift}, {**full, **asta}, {**full, **swift}) == {}
    # Untouched fields, and one typed value (even the previous car's), are what they seem.
    assert quote_form.edited({**full, **asta}, {**full, **asta}, {**full, **swift}) == {}
    typed = {**full, **asta, "max_power_bhp": 84.5}
    assert quote_form.edited(typed, {**full, **asta}, {**full, **swift}) == {"max_power_bhp": 84.5}
    assert quote_form.edited({**full, **swift}, {**full, **asta}, {}) == {
        "max_power_bhp": 84.5, "mileage_kmpl": 18.4
    }  # fmt: skip
    # The same car picked again (before = typical) is no race: the fields are as filled.
    assert not quote_form.raced({**full, **asta}, {**full, **asta}, {**full, **asta})
    assert quote_form.raced({**full, **swift}, {**full, **asta}, {**full, **swift})


def test_a_form_sent_back_in_a_race_shows_and_prices_the_picked_car(apptest, api: FakeApi) -> None:
    """The browser submits the fields it holds. Asked in the instant after a variant change,
    those are the previous car's specs, fuel and all; the page puts the picked car's back in
    the fields and prices that car, so what is shown is what is priced."""
    at = apptest("quote").run()
    dzire = specs_in_form(at)
    at.selectbox(key="quote_variant").set_value("VXI").run()
    vxi = specs_in_form(at)
    assert vxi != dzire and at.selectbox(key="quote_fuel").value == "Petrol"
    for name, value in dzire.items():  # what the browser still had
        at.number_input(key=f"quote_{name}").set_value(value)
    at.selectbox(key="quote_fuel").set_value("Diesel")
    sent_before = len(api.bodies)
    submit(at)
    sent = api.bodies[sent_before:]  # the race's own run priced nothing
    assert sent and all(b["variant"] == "VXI" and b["fuel"] == "Petrol" for b in sent)
    assert not any(set(SPECS) & set(b) for b in sent)
    assert specs_in_form(at) == vxi and at.selectbox(key="quote_fuel").value == "Petrol"
    assert "Maruti Swift VXI" in [h.value for h in at.subheader]
    # A deliberate change afterwards is kept: no race any more.
    at.selectbox(key="quote_fuel").set_value("CNG")
    submit(at)
    assert api.bodies[-1]["fuel"] == "CNG" and at.selectbox(key="quote_fuel").value == "CNG"
