"""Quote page against the real API: catalogue pickers, identity-only quotes, explanation,
what-if. The pickers' rules in detail, against a fake API: test_quote_form.py."""

from __future__ import annotations

import json

import httpx

from dashboard.charts import rupees
from tests.plugins.api_stack import ApiServer

SPECS = ("mileage_kmpl", "engine_cc", "max_power_bhp", "torque_nm", "torque_rpm", "seats")


def sent(at) -> dict:  # noqa: ANN001
    """The car the page priced (what it posted to /predict)."""
    return at.session_state["quote_car"]


def submit(at) -> None:  # noqa: ANN001
    at.form_submit_button(key="quote_submit").click().run()
    assert not at.exception, [e.message for e in at.exception]


def test_form_is_built_from_the_catalogue(apptest, live_env, api_server: ApiServer) -> None:
    info = httpx.get(api_server.url + "/model/info").json()
    brands = httpx.get(api_server.url + "/catalogue/brands").json()
    at = apptest("quote").run()
    assert not at.exception
    brand = at.selectbox(key="quote_brand")
    assert brand.options == [b["brand"] for b in brands]
    fuel = at.selectbox(key="quote_fuel")
    assert fuel.options == next(f["allowed"] for f in info["features"] if f["name"] == "fuel")
    assert "(km)" in at.number_input(key="quote_km_driven").label
    models = httpx.get(f"{api_server.url}/catalogue/{brand.value}/models").json()
    assert at.selectbox(key="quote_model").options == [m["model"] for m in models]
    # The model list follows the brand; the variant list follows the model.
    other = next(b["brand"] for b in brands if b["brand"] != brand.value)
    at.selectbox(key="quote_brand").set_value(other).run()
    models = httpx.get(f"{api_server.url}/catalogue/{other}/models").json()
    assert at.selectbox(key="quote_model").options == [m["model"] for m in models]
    assert at.selectbox(key="quote_model").value is None
    at.selectbox(key="quote_model").set_value(models[0]["model"]).run()
    variants = httpx.get(f"{api_server.url}/catalogue/{other}/{models[0]['model']}/variants")
    assert sorted(at.selectbox(key="quote_variant").options) == sorted(
        v["variant"] for v in variants.json()
    )
    assert at.info[0].value.startswith("Fill in the car")


def test_price_matches_the_api_and_explains_it(apptest, live_env, api_server: ApiServer) -> None:
    at = apptest("quote").run()
    at.number_input(key="quote_km_driven").set_value(42000)
    submit(at)
    assert not at.error
    car = sent(at)
    assert car["km_driven"] == 42000 and not set(SPECS) & set(car)
    expected = httpx.post(api_server.url + "/predict", json=car).json()
    metric = at.metric[0]
    assert metric.label == "Estimated price"
    assert metric.value.startswith("₹")
    price_caption = next(c.value for c in at.caption if "Model version" in c.value)
    assert rupees(expected["price"], exact=True) in price_caption  # ₹10,06,500: Indian grouping
    assert expected["model_version"] in price_caption
    # Waterfall: base + contributions (+ rest) ends at the price.
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    trace = spec["data"][0]
    assert trace["type"] == "waterfall"
    assert trace["measure"][-1] == "total"
    assert abs(sum(trace["x"][:-1]) - expected["price"]) < 1.0
    # Comparables table from the API.
    assert len(at.dataframe) == 1
    assert len(at.dataframe[0].value) == len(expected["comparables"]) > 0


def test_a_car_by_name_alone_is_priced_with_its_variants_specs(
    apptest, live_env, api_server: ApiServer
) -> None:
    """Brand → model → variant only: no specs sent, the API fills them from the variant and
    the quote names each with the value used; then the Alto is priced as an Alto."""
    at = apptest("quote").run()
    at.selectbox(key="quote_brand").set_value("Maruti").run()
    at.selectbox(key="quote_model").set_value("Swift").run()
    at.selectbox(key="quote_variant").set_value("VDI").run()
    vdi = next(
        v for v in httpx.get(api_server.url + "/catalogue/Maruti/Swift/variants").json()
        if v["variant"] == "VDI"
    )  # fmt: skip
    assert at.number_input(key="quote_engine_cc").value == round(vdi["engine_cc"])
    assert at.selectbox(key="quote_fuel").value == vdi["fuel"]
    submit(at)
    car = sent(at)
    assert (car["brand"], car["model"], car["variant"]) == ("Maruti", "Swift", "VDI")
    assert not set(SPECS) & set(car)
    expected = httpx.post(api_server.url + "/predict", json=car).json()
    assert expected["filled"] and set(expected["filled"].values()) == {"variant"}
    assert at.metric[0].value == rupees(expected["price"])
    text = " ".join(i.value for i in at.info if "Assumed from" in i.value)
    assert text.startswith("**Assumed from the variant's typical specs:**")
    assert f"engine {vdi['engine_cc']:,.0f} cc" in text

    at.selectbox(key="quote_model").set_value("Alto").run()
    at.selectbox(key="quote_variant").set_value("LXI").run()
    lxi = next(
        v for v in httpx.get(api_server.url + "/catalogue/Maruti/Alto/variants").json()
        if v["variant"] == "LXI"
    )  # fmt: skip
    assert at.number_input(key="quote_engine_cc").value == round(lxi["engine_cc"])
    submit(at)
    car = sent(at)
    assert (car["model"], car["variant"]) == ("Alto", "LXI") and not set(SPECS) & set(car)
    expected = httpx.post(api_server.url + "/predict", json=car).json()
    assert at.metric[0].value == rupees(expected["price"])
    assert f"engine {lxi['engine_cc']:,.0f} cc" in " ".join(i.value for i in at.info)


def test_an_edited_spec_is_sent_and_wins(apptest, live_env, api_server: ApiServer) -> None:
    at = apptest("quote").run()
    power = at.number_input(key="quote_max_power_bhp").value
    at.number_input(key="quote_max_power_bhp").set_value(power + 40)
    submit(at)
    car = sent(at)
    assert set(SPECS) & set(car) == {"max_power_bhp"} and car["max_power_bhp"] == power + 40
    expected = httpx.post(api_server.url + "/predict", json=car).json()
    assert "max_power_bhp" not in expected["filled"]
    assert at.metric[0].value == rupees(expected["price"])


def test_what_if_reprices_without_the_form(apptest, live_env, api_server: ApiServer) -> None:
    at = apptest("quote").run()
    submit(at)
    car = sent(at)
    slider = at.select_slider(key="quote_whatif_km")
    assert slider.value == car["km_driven"]
    new_km = int(slider.options[-1].replace(",", "").removesuffix(" km"))
    slider.set_value(new_km).run()
    assert not at.exception
    expected = httpx.post(api_server.url + "/predict", json={**car, "km_driven": new_km}).json()
    whatif = next(m for m in at.metric if m.label == "What-if price")
    assert whatif.value == rupees(expected["price"])
    # The headline quote is unchanged.
    assert at.metric[0].value == rupees(
        httpx.post(api_server.url + "/predict", json=car).json()["price"]
    )
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert any(c["layout"]["xaxis"]["title"]["text"] == "Kilometres driven" for c in charts)


def test_out_of_range_input_warns(apptest, live_env, api_server: ApiServer) -> None:
    info = httpx.get(api_server.url + "/model/info").json()
    km = next(f for f in info["features"] if f["name"] == "km_driven")
    at = apptest("quote").run()
    beyond = min(int(km["train_max"]) + 100_000, int(km["max"]))  # possible, but never seen
    at.number_input(key="quote_km_driven").set_value(beyond)
    submit(at)
    assert not at.exception
    assert any(
        "Outside the cars the model learned from" in w.value and "Kilometres driven" in w.value
        for w in at.warning
    )


def test_api_down_shows_a_banner(apptest, down_env: str) -> None:
    at = apptest("quote").run()
    assert not at.exception
    assert len(at.error) == 1
    assert "pricing API is down" in at.error[0].value and down_env in at.error[0].value
