"""Issue 16's data-scientist items in Chromium, at a laptop's 1280 px and a phone's 390 px,
each checked as a person sees it (text whole, figures formatted):

* Experiments: a change in MAE that rounds to 0.0% is grey "no change", not a red up arrow;
  "Parameters that differ" lists only the parameters that really differ (0.05 and 0.050 are
  the same number); identical retrains (same data, seed and parameters) are called identical.
* Model: the served champion's MAE on the named frozen evaluation set, with its own split's
  as a second labelled figure, in the card and in the history of champions; a version
  trained on the synthetic sample is labelled as such.

The Experiments cases use an experiment and a registered model of their own on the session's
MLflow (the session champion, `car_price`, is never touched); the Model case reads the
session champion, which is trained on the synthetic sample.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import wait_idle
from tests.e2e.test_batch_reload_browser import DRAWN_JS, SIZES, WESTERN, cut_off, grouped, snap
from tests.e2e.test_experiments_browser import _pick
from tests.e2e.test_rupees_browser import drawn, scroll_until_drawn, wait_drawn
from tests.plugins.api_stack import ApiServer, Champion

#: Text shown cut off: every element under `root` (a CSS selector) holding text of its own
#: whose content is wider than its box.
TEXT_CUT_OFF_JS = """(root) => [...document.querySelectorAll(root)]
  .flatMap(e => [e, ...e.querySelectorAll('*')])
  .filter(e => [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
  .filter(e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth)
  .map(e => `${(e.innerText || e.textContent).slice(0, 80)}: ${e.scrollWidth}>${e.clientWidth}`)"""
CHECKSUM = "ab" * 32  # the raw data's SHA-256, the same for every retrain here


EXPECT_TIMEOUT_MS = 60_000  # conftest's _expect_timeout: assertions wait this long here


@pytest.fixture(params=list(SIZES))
def sized(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=SIZES[request.param])
    context.set_default_timeout(60_000)
    context.add_init_script(DRAWN_JS)
    try:
        yield context.new_page()
    finally:
        context.close()


def text_cut_off(page: Page, root: str) -> list[str]:
    return page.evaluate(TEXT_CUT_OFF_JS, root)


def no_exception(page: Page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0


@dataclass(frozen=True)
class Science:
    experiment: str
    model: str


@pytest.fixture(scope="module")
def science(api_server: ApiServer) -> Science:
    """On the session MLflow, an experiment of its own:

    * retrain-a, retrain-b: the same data (checksum), seed and parameters: identical retrains;
    * retrain-c: the same, but 30 trials instead of 3 (eta logged as 0.050, the same number);
    * champ-v1, champ-v2: the runs of a registered model of its own, where v1 went live, then
      v2 replaced it with an MAE on the frozen set ₹10 lower (a 0.0% change); v1 was trained
      on the synthetic sample."""
    from mlflow import MlflowClient

    from carprice import registry
    from carprice.names import EVAL_SET_TAG

    client = MlflowClient(api_server.mlflow_url, registry_uri=api_server.mlflow_url)
    suffix = uuid.uuid4().hex[:8]
    experiment = client.create_experiment(f"e2e_science_{suffix}")
    retrains = {
        "retrain-a": ({"seed": "42", "trials": "3", "eta": "0.05"}, 68_000.0),
        "retrain-b": ({"seed": "42", "trials": "3", "eta": "0.05"}, 68_900.0),
        "retrain-c": ({"seed": "42", "trials": "30", "eta": "0.050"}, 66_500.0),
    }
    for name, (params, mae) in retrains.items():
        run = client.create_run(experiment, run_name=name, tags={"data.sha256": CHECKSUM})
        for key, value in params.items():
            client.log_param(run.info.run_id, key, value)
        client.log_metric(run.info.run_id, "test_mae", mae)
        client.set_terminated(run.info.run_id)
    model = f"e2e_science_model_{suffix}"
    client.create_registered_model(model)
    for version, frozen, synthetic in (("1", 68_010.0, "true"), ("2", 68_000.0, "false")):
        tags = {EVAL_SET_TAG: "eval-e2e-science", "data.synthetic": synthetic}
        run = client.create_run(experiment, run_name=f"champ-v{version}", tags=tags).info.run_id
        for key, value in (("frozen_mae", frozen), ("frozen_rows", 900.0),
                           ("test_mae", frozen + 1_500)):  # fmt: skip
            client.log_metric(run, key, value)
        client.set_terminated(run)
        client.create_model_version(model, f"runs:/{run}/model", run_id=run)
    registry._make_champion(client, model, "1", "gate", "no champion yet", None)
    registry._make_champion(client, model, "2", "gate", "beats the champion beyond noise", "1")
    return Science(f"e2e_science_{suffix}", model)


@pytest.fixture(scope="module")
def science_url(
    dashboard_factory: Callable[..., str], api_server: ApiServer, science: Science
) -> str:
    """A dashboard whose registered model is `science.model`, MLflow lists cached 1 s."""
    return dashboard_factory(
        api_url=api_server.url,
        mlflow_url=api_server.mlflow_url,
        model_name=science.model,
        cache_ttl_seconds="1",
    )


def param_diff(page: Page):  # noqa: ANN201 - a Locator
    """The "Parameters that differ" table (a read-only grid has no key class of its own)."""
    return page.locator(
        "[data-testid=stElementContainer]:has-text('Parameters that differ')"
        " + [data-testid=stElementContainer] [data-testid=stDataFrame]"
    )


def open_experiments(page: Page, url: str) -> None:
    page.goto(f"{url}/experiments")
    expect(page.get_by_text("Champion vs the champion it replaced")).to_be_visible()
    wait_idle(page)


def choose_experiment(page: Page, name: str) -> None:
    box = page.locator(".st-key-exp_experiment input")
    box.click()
    box.fill(name)
    page.get_by_role("option", name=name, exact=True).click()
    wait_idle(page)
    expect(box).to_have_value(name)
    expect(page.get_by_text("Pick two or more runs")).to_be_visible()


def test_unchanged_mae_is_grey_without_an_arrow(
    sized: Page, science_url: str, shoot: Callable
) -> None:
    """v1's MAE on the frozen set is ₹10 above v2's (0.0%): "no change", grey, no arrow;
    both cards name the frozen set and give their own split as a second figure."""
    page = sized
    width = page.viewport_size["width"]
    open_experiments(page, science_url)
    cards = page.locator("[class*='st-key-exp_card_']")
    expect(cards).to_have_count(2)
    champion, previous = cards.nth(0), cards.nth(1)
    expect(champion.locator("[data-testid=stMetricLabel]")).to_have_text("Champion · v2")
    expect(champion.locator("[data-testid=stMetricValue]")).to_have_text("₹68,000 MAE")
    expect(previous.locator("[data-testid=stMetricLabel]")).to_have_text("Previous champion · v1")
    expect(previous.locator("[data-testid=stMetricValue]")).to_have_text("₹68,010 MAE")
    delta = previous.locator("[data-testid=stMetricDelta]")
    expect(delta).to_have_text("no change in MAE vs champion")
    assert delta.locator("svg").count() == 0, "an unchanged MAE has an arrow"
    red, green, blue = map(
        int, re.findall(r"\d+", delta.evaluate("e => getComputedStyle(e).color"))[:3]
    )
    assert not (red > 150 and green < 120 and blue < 120), (
        f"an unchanged MAE is red: {red, green, blue}"
    )
    assert not (green > 100 and red < 100), f"an unchanged MAE is green: {red, green, blue}"
    expect(champion).to_contain_text("on frozen set eval-e2e-science (900 cars)")
    expect(champion).to_contain_text("own test split ₹69,500")
    expect(previous).to_contain_text("own test split ₹69,510")
    expect(previous).to_contain_text("trained on the synthetic sample")
    expect(champion).not_to_contain_text("synthetic")
    assert cut_off(page, "[class*='st-key-exp_card_']") == [], f"cut off at {width} px"
    assert text_cut_off(page, "[class*='st-key-exp_card_']") == [], f"cut off at {width} px"
    assert not WESTERN.search(page.locator("[data-testid=stMain]").inner_text())
    no_exception(page)
    snap(page, shoot, f"science_no_change_{width}px")


def test_parameters_that_differ_and_identical_retrains(
    sized: Page, science_url: str, science: Science, shoot: Callable
) -> None:
    """Two identical retrains are called identical (no table of differences); with a third
    run of 30 trials, only `trials` differs: eta (0.05 = 0.050) and seed are not listed."""
    page = sized
    width = page.viewport_size["width"]
    open_experiments(page, science_url)
    choose_experiment(page, science.experiment)
    _pick(page, "retrain-a")
    _pick(page, "retrain-b")
    expect(page.get_by_text("Parameters that differ")).to_be_visible()
    same = page.locator("[data-testid=stAlert]").filter(has_text="identical retrains")
    expect(same).to_contain_text(
        "These 2 runs are identical retrains: same data (SHA-256 abababababab…), "
        "same seed (42), same parameters."
    )
    expect(same).to_contain_text("run-to-run noise, not a finding")
    same.scroll_into_view_if_needed()
    assert text_cut_off(page, "[data-testid=stAlert]") == [], f"cut off at {width} px"
    assert param_diff(page).count() == 0
    no_exception(page)
    snap(page, shoot, f"science_identical_{width}px")

    _pick(page, "retrain-c")
    expect(same).to_have_count(0)
    table = param_diff(page)
    expect(table).to_be_visible()
    table.scroll_into_view_if_needed()
    seen = wait_drawn(page, {"trials", "30"})
    assert {"trials", "30"} <= seen, sorted(seen)
    assert not {"eta", "seed"} & seen, "a parameter all three runs agree on is listed"
    # Glide's accessible copy of the grid: the header row (the runs) and one row, trials.
    rows = table.locator("[role=row]")
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text(re.compile(r"^trials\s*3\s*3\s*30$"))
    assert text_cut_off(page, "[data-testid=stMain] [data-testid=stMarkdown]") == [], (
        f"cut off at {width} px"
    )
    no_exception(page)
    snap(page, shoot, f"science_param_diff_{width}px")


def test_model_page_names_both_figures_and_the_synthetic_sample(
    sized: Page, dashboard_url: str, champion: Champion, shoot: Callable
) -> None:
    """The served champion: MAE on the named frozen evaluation set and, labelled apart, on
    its own test split (the card and the history agree with its MLflow run); trained on the
    synthetic sample, which the warning, the card and the history all say."""
    page = sized
    width = page.viewport_size["width"]
    run = champion.client().get_run(champion.run_id).data
    eval_set = run.tags["carprice.eval_set"]
    assert run.tags.get("data.synthetic") == "true"
    page.goto(f"{dashboard_url}/model")
    card = page.locator(".st-key-model_card")
    tiles = card.locator("[data-testid=stMetric]")
    frozen = tiles.filter(has_text="MAE · frozen evaluation set")
    own = tiles.filter(has_text="MAE · its own test split")
    expect(frozen.locator("[data-testid=stMetricValue]")).to_have_text(
        grouped(run.metrics["frozen_mae"])
    )
    expect(own.locator("[data-testid=stMetricValue]")).to_have_text(
        grouped(run.metrics["test_mae"])
    )
    wait_idle(page)
    warning = page.locator("[data-testid=stAlert]").filter(has_text="synthetic")
    expect(warning).to_contain_text("This model was trained on a synthetic sample")
    expect(card).to_contain_text("Its MLflow run says: trained on the synthetic sample.")
    assert cut_off(page, ".st-key-model_card") == [], f"cut off at {width} px"
    assert text_cut_off(page, ".st-key-model_card, [data-testid=stAlert]") == [], (
        f"cut off at {width} px"
    )
    # The frozen set is named where its figure is explained (the tile's help).
    frozen.locator("[data-testid=stTooltipHoverTarget]").hover()
    expect(
        page.get_by_text(re.compile(rf"{re.escape(eval_set)}: [\d,]+ cars every model"))
    ).to_be_visible()

    history = page.locator(".st-key-model_history [data-testid=stDataFrame]")
    history.scroll_into_view_if_needed()
    expect(history).to_be_visible()
    expect(page.get_by_text("MAE on the frozen evaluation set compares models")).to_be_visible()
    wanted = {
        "MAE on frozen set", "MAE on own test split", grouped(run.metrics["frozen_mae"]),
        grouped(run.metrics["test_mae"]), eval_set, "SYNTHETIC sample",
    }  # fmt: skip
    seen = scroll_until_drawn(page, history, wanted)
    assert wanted <= seen, (wanted - seen, sorted(seen))
    assert not [t for t in drawn(page) if WESTERN.search(t)]
    no_exception(page)
    snap(page, shoot, f"science_model_{width}px")
