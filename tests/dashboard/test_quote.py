"""Quote page against the real API: form from /model/info, price, explanation, what-if."""

from __future__ import annotations

import json

import httpx

from tests.plugins.api_stack import ApiServer


def _car_from_form(at) -> dict:  # noqa: ANN001
    from dashboard import quote_form

    keys = ["quote_brand", "quote_model", "quote_variant", "quote_owner_rank"]
    keys += [f"quote_{f}" for f in (*quote_form.NUMBER_FIELDS, *quote_form.CATEGORY_LABELS)]
    state = {k: at.session_state[k] for k in keys if k in at.session_state}
    brand, model = state["quote_brand"], state.get("quote_model")
    name = " ".join(p for p in (brand, model or "", state.get("quote_variant", "")) if p)
    car = {"name": name, "brand": brand, "owner_rank": state["quote_owner_rank"]}
    for field in (*quote_form.NUMBER_FIELDS, *quote_form.CATEGORY_LABELS):
        if state.get(f"quote_{field}") is not None:
            car[field] = state[f"quote_{field}"]
    return car


def submit(at) -> None:  # noqa: ANN001
    at.form_submit_button(key="quote_submit").click().run()


def test_form_is_built_from_model_info(apptest, live_env, api_server: ApiServer) -> None:
    info = httpx.get(api_server.url + "/model/info").json()
    at = apptest("quote").run()
    assert not at.exception
    brand = at.selectbox(key="quote_brand")
    assert brand.options == info["brands"]
    fuel = at.selectbox(key="quote_fuel")
    assert fuel.options == next(f["allowed"] for f in info["features"] if f["name"] == "fuel")
    assert "(km)" in at.number_input(key="quote_km_driven").label
    # The model list follows the brand.
    other = next(b for b in info["brands"] if b != brand.value and info["models_by_brand"].get(b))
    at.selectbox(key="quote_brand").set_value(other).run()
    models = at.selectbox(key="quote_model").options
    assert [m.lower() for m in models] == [m.lower() for m in info["models_by_brand"][other]]
    assert at.info[0].value.startswith("Fill in the car")


def test_price_matches_the_api_and_explains_it(apptest, live_env, api_server: ApiServer) -> None:
    at = apptest("quote").run()
    at.number_input(key="quote_km_driven").set_value(42000)
    submit(at)
    assert not at.exception and not at.error
    car = _car_from_form(at)
    assert car["km_driven"] == 42000
    expected = httpx.post(api_server.url + "/predict", json=car).json()
    metric = at.metric[0]
    assert metric.label == "Estimated price"
    assert metric.value.startswith("₹")
    price_caption = next(c.value for c in at.caption if "Model version" in c.value)
    assert f"₹{expected['price']:,.0f}" in price_caption
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


def test_what_if_reprices_without_the_form(apptest, live_env, api_server: ApiServer) -> None:
    at = apptest("quote").run()
    submit(at)
    car = _car_from_form(at)
    slider = at.slider(key="quote_whatif_km")
    assert slider.value == car["km_driven"]
    new_km = int(slider.max)
    slider.set_value(new_km).run()
    assert not at.exception
    expected = httpx.post(api_server.url + "/predict", json={**car, "km_driven": new_km}).json()
    whatif = next(m for m in at.metric if m.label == "What-if price")
    from dashboard.charts import rupees

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
    at.number_input(key="quote_km_driven").set_value(int(km["train_max"]) + 100_000)
    submit(at)
    assert not at.exception
    assert any("Outside the training range" in w.value and "km" in w.value for w in at.warning)


def test_api_down_shows_a_banner(apptest, down_env: str) -> None:
    at = apptest("quote").run()
    assert not at.exception
    assert len(at.error) == 1
    assert "pricing API is down" in at.error[0].value and down_env in at.error[0].value
