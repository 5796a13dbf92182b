"""The Quote page's checks and words: empty and impossible fields, plausible what-if ranges,
a price drop that reads as a drop, and API refusals in a salesperson's words.

Pure functions first, then the page (AppTest) against the fake API of test_quote_form.py.
"""

from __future__ import annotations

import pytest
from streamlit.proto.Metric_pb2 import Metric

from dashboard import quote_answer, quote_form, whatif
from tests.dashboard.conftest import page_text
from tests.dashboard.test_quote_form import INFO, SPECS, FakeApi, api  # noqa: F401

BY_NAME = quote_form.specs(INFO)
YEAR, KM = BY_NAME["year"], BY_NAME["km_driven"]


# ----------------------------------------------------------------------------- pure checks


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("year", 2014, None),
        ("km_driven", 0, None),
        ("torque_nm", None, None),  # optional: empty is fine, the API fills it
        ("year", None, "Enter the year of registration: it is needed for a price."),
        ("km_driven", None, "Enter the kilometres driven: it is needed for a price."),
        (
            "year",
            1900,
            "Year of registration 1900 isn't possible: it must be between 1980 and 2027.",
        ),  # fmt: skip
        (
            "km_driven",
            5_000_000,
            "Kilometres driven 50,00,000 km isn't possible: it must be "
            "between 0 km and 10,00,000 km.",
        ),  # fmt: skip
        (
            "engine_cc",
            100,
            "Engine 100 cc isn't possible: it must be between 500 cc and "
            "7,000 cc. Leave it empty if you don't know it.",
        ),  # fmt: skip
    ],
)
def test_a_field_problem_is_said_in_words(name: str, value: float | None, expected) -> None:  # noqa: ANN001
    assert quote_form.problem(name, value, BY_NAME[name]) == expected


def test_problems_cover_every_number_field() -> None:
    values = {"quote_year": None, "quote_km_driven": 5_000_000, "quote_torque_nm": None,
              "quote_seats": 40}  # fmt: skip
    assert set(quote_form.problems(INFO, values)) == {"year", "km_driven", "seats"}
    assert quote_form.problems(INFO, {"quote_year": 2015, "quote_km_driven": 1}) == {}


def _pick(entry: dict | None) -> quote_form.Pick:
    return quote_form.Pick("Hyundai", "Creta", None, entry, None, True)


def test_a_year_the_car_wasnt_listed_in_gets_a_note() -> None:
    creta = {"name": "Hyundai Creta", "year_min": 2015, "year_max": 2020, "listings": 40}
    assert quote_form.year_note(_pick(creta), 2017) is None
    note = quote_form.year_note(_pick(creta), 2002)
    assert note == "No 2002 Hyundai Creta on record (listed 2015–2020): the price will be a guess."
    assert quote_form.year_note(_pick(None), 2002) is None  # nothing to compare with


def test_what_if_sliders_stay_within_the_cars_years() -> None:
    creta = {"year_min": 2015, "year_max": 2020}
    span = whatif.span(YEAR, KM, creta, {"year": 2017, "km_driven": 40_000})
    assert (span.year_low, span.year_high) == (2015, 2020)
    assert whatif.year_values(span) == list(range(2015, 2021))
    assert span.km_high == 180_000  # 30,000 km a year for a 2015 car by 2020
    assert whatif.km_values(span)[0] == 0 and whatif.km_values(span)[-1] == 180_000
    steps = whatif.km_steps(span, 40_500)
    assert steps[:2] == [0, 1_000] and steps[-1] == 180_000 and 40_500 in steps
    assert whatif.flags(span, "Hyundai Creta", 2017, 40_000) == []
    # A 2002 Creta: the slider reaches it (it is the car quoted), and it is flagged.
    old = whatif.span(YEAR, KM, creta, {"year": 2002, "km_driven": 40_000})
    assert (old.year_low, old.year_high) == (2002, 2020)
    [flag] = whatif.flags(old, "Hyundai Creta", 2002, 40_000)
    assert flag.startswith("**A 2002 Hyundai Creta isn't on record:**") and "2015–2020" in flag
    # Too many km for the year.
    [flag] = whatif.flags(span, "Hyundai Creta", 2019, 2_00_000)
    assert flag.startswith("**2,00,000 km is a lot for a 2019 car**")


def test_what_if_without_catalogue_years_uses_the_training_years() -> None:
    span = whatif.span(YEAR, KM, None, {"year": 2014, "km_driven": 145_500})
    assert (span.year_low, span.year_high) == (1995, 2020)
    assert span.km_high == 500_000  # capped by the training range
    one_year = {"year_min": 2019, "year_max": 2019}
    one = whatif.span(YEAR, KM, one_year, {"year": 2019, "km_driven": 1})
    assert one.year_low < one.year_high  # a slider needs two ends


def test_api_refusals_in_a_salespersons_words() -> None:
    brands = ", ".join(f"Brand{i}" for i in range(30))
    text = quote_answer.error_text(f"brand 'Tesla' is unknown; allowed: {brands}")
    assert text == "The model doesn't know the brand 'Tesla'. Choose one it lists."
    assert quote_answer.error_text("km_driven 5000000 is outside 0–1e+06 km") == (
        "Kilometres driven 50,00,000 km isn't possible: it must be between 0 km and 10,00,000 km."
    )
    assert (
        quote_answer.error_text(
            "Invalid request: km_driven: Input should be less than or equal to 1000000"
        )
        == "Kilometres driven must be at most 10,00,000 km."
    )
    assert "Did you mean Creta?" in quote_answer.error_text(
        "model 'Cretaa' is not in the catalogue; did you mean: Creta"
    )
    assert quote_answer.error_text("odd max_power_bhp") == "odd Max power"


# ----------------------------------------------------------------------------- the page


def submit(at) -> None:  # noqa: ANN001
    at.form_submit_button(key="quote_submit").click().run()
    assert not at.exception, [e.message for e in at.exception]


def shown(at) -> str:  # noqa: ANN001
    """Markdown as written (page_text holds protos, which escape quotes) and the rest."""
    return " ".join(m.value for m in at.markdown) + "\n" + page_text(at)


def test_cleared_optional_specs_stay_empty_and_are_not_sent(apptest, api: FakeApi) -> None:  # noqa: F811
    at = apptest("quote").run()
    at.number_input(key="quote_torque_nm").set_value(None)
    at.number_input(key="quote_torque_rpm").set_value(None)
    submit(at)
    assert at.number_input(key="quote_torque_nm").value is None  # not 30 Nm
    sent = api.bodies[-1]
    assert "torque_nm" not in sent and "torque_rpm" not in sent
    assert "isn't possible" not in shown(at) and "No price yet" not in shown(at)
    assert at.metric and at.metric[0].label == "Estimated price"


def test_an_empty_required_field_blocks_the_quote_with_a_message(apptest, api: FakeApi) -> None:  # noqa: F811
    at = apptest("quote").run()
    submit(at)
    priced = len(api.bodies)
    assert at.metric[0].label == "Estimated price"
    at.number_input(key="quote_year").set_value(None)
    submit(at)
    assert len(api.bodies) == priced  # nothing was priced
    assert not [m for m in at.metric if m.label in ("Estimated price", "What-if price")]
    text = shown(at)
    assert "Enter the year of registration: it is needed for a price." in text
    assert "No price yet" in text
    assert at.number_input(key="quote_year").value is None  # not 1980


def test_an_impossible_value_says_why_and_is_not_priced(apptest, api: FakeApi) -> None:  # noqa: F811
    at = apptest("quote").run()
    at.number_input(key="quote_km_driven").set_value(5_000_000)
    at.number_input(key="quote_engine_cc").set_value(100)
    submit(at)
    assert api.bodies == []
    text = shown(at)
    assert "Kilometres driven 50,00,000 km isn't possible" in text
    assert "Engine 100 cc isn't possible" in text
    assert "Engine (under Specifications)" in text
    assert not at.metric or at.metric[0].label != "Estimated price"
    # Put right, the car is priced.
    at.number_input(key="quote_km_driven").set_value(50_000)
    at.number_input(key="quote_engine_cc").set_value(None)
    submit(at)
    assert api.bodies[-1]["km_driven"] == 50_000 and "engine_cc" not in api.bodies[-1]


def test_a_price_drop_in_the_what_if_reads_as_a_drop(apptest, api: FakeApi) -> None:  # noqa: F811
    at = apptest("quote").run()
    submit(at)
    slider = at.select_slider(key="quote_whatif_km")
    assert slider.options[:2] == ["0 km", "5,000 km"] and "1,45,500 km" in slider.options
    year = at.slider(key="quote_whatif_year")
    assert (year.min, year.max) == (2008, 2019)  # the Swift Dzire VDI's years, not 1995–2020
    slider.set_value(165_000).run()  # 19,500 km more: ₹39,000 less in the fake
    whatif_metric = next(m for m in at.metric if m.label == "What-if price")
    assert whatif_metric.proto.delta == "−₹39,000"
    assert whatif_metric.proto.direction == Metric.MetricDirection.DOWN
    assert whatif_metric.proto.color == Metric.MetricColor.RED
    at.slider(key="quote_whatif_year").set_value(2019).run()  # newer: dearer
    whatif_metric = next(m for m in at.metric if m.label == "What-if price")
    assert whatif_metric.proto.delta.startswith("+₹")
    assert whatif_metric.proto.direction == Metric.MetricDirection.UP


def test_money_on_the_page_uses_indian_grouping(apptest, api: FakeApi) -> None:  # noqa: F811
    at = apptest("quote").run()
    submit(at)  # the fake's price for the example car: ₹5,89,000
    assert at.metric[0].value == "₹5.89 lakh"
    assert at.metric[1].value == "₹4.71 – ₹7.36 lakh"
    assert any("₹5,89,000" in c.value for c in at.caption)
    assert "589,000" not in page_text(at)


def test_a_year_the_car_wasnt_made_in_is_priced_with_a_note(apptest, api: FakeApi) -> None:  # noqa: F811
    """The fake lists the Swift Dzire VDI for 2008–2019: a 2002 one is priced, and said."""
    at = apptest("quote").run()
    at.number_input(key="quote_year").set_value(2002)
    submit(at)
    assert api.bodies[-1]["year"] == 2002
    text = shown(at)
    assert "No 2002 Maruti Swift Dzire VDI on record (listed 2008–2019)" in text
    assert any(
        w.value.startswith("**A 2002 Maruti Swift Dzire VDI isn't on record:**") for w in at.warning
    )
    year = at.slider(key="quote_whatif_year")
    assert (year.min, year.max) == (2002, 2019)  # reaches the car quoted, no further
