"""The SHAP waterfall speaks a salesperson's words for model v2's name features."""

from __future__ import annotations

import pytest

from dashboard.charts import _label, waterfall


def test_name_features_read_as_what_they_stand_for() -> None:
    assert _label("te_variant", 13.05) == "what the variant fetches"
    assert _label("te_price", 12.4) == "name, age, km and owners together"
    assert _label("n_variant", 12.0) == "listings of this variant = 12"
    assert _label("tok_vdi", 1.0) == "'VDI' in the name"
    assert _label("tok_at", 0.0) == "no 'AT' in the name"
    assert _label("power_per_cc", 61.7) == "power per litre (bhp) = 61.7"
    assert _label("km_driven", 63000) == "km driven = 63,000"


def test_waterfall_labels_v2_features() -> None:
    contributions = {
        "base_price": 400_000.0,
        "features": [
            {"feature": "te_variant", "value": 13.1, "rupees": 90_000.0},
            {"feature": "tok_vdi", "value": 1.0, "rupees": 5_000.0},
        ],
    }
    figure = waterfall(contributions, 495_000.0)
    assert list(figure.data[0].y) == [
        "Typical car",
        "what the variant fetches",
        "'VDI' in the name",
        "This car",
    ]


def test_importance_shows_the_top_inputs_and_groups_the_tail() -> None:
    from dashboard.charts import importance_bar

    importance = {f"tok_w{i}": 0.001 for i in range(40)} | {"te_variant": 0.5, "year": 0.3}
    bars = importance_bar(importance, top=5).data[0]
    assert list(bars.y)[-2:] == ["year", "what the variant fetches"]  # largest at the top
    assert list(bars.y)[0] == "37 other inputs together"
    assert bars.x[0] == pytest.approx(37 * 0.001)
