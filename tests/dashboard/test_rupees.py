"""Money as people in India write it: one set of functions in dashboard.charts."""

from __future__ import annotations

import math

import pytest

from dashboard.charts import indian, rupee_range, rupee_ticks, rupees, signed_rupees, ticks


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0"),
        (999, "999"),
        (1_000, "1,000"),
        (85_000, "85,000"),
        (1_00_000, "1,00,000"),
        (10_06_500, "10,06,500"),
        (1_25_00_000, "1,25,00,000"),
        (12_50_00_00_000, "12,50,00,00,000"),
        (-39_200, "−39,200"),
        (63_000.4, "63,000"),
        (2.5, "3"),  # half away from zero, not to even
    ],
)
def test_indian_grouping(value: float, expected: str) -> None:
    assert indian(value) == expected


def test_indian_grouping_with_decimals() -> None:
    assert indian(12_345.65, 1) == "12,345.7"
    assert indian(1_23_456.789, 2) == "1,23,456.79"
    assert indian(81.0, 1) == "81.0"


@pytest.mark.parametrize(
    ("value", "headline", "exact"),
    [
        (85_000, "₹85,000", "₹85,000"),
        (99_999.6, "₹1.00 lakh", "₹1,00,000"),  # rounds into the lakh
        (10_06_500, "₹10.07 lakh", "₹10,06,500"),  # 10.065 → 10.07, as written
        (56_60_000, "₹56.60 lakh", "₹56,60,000"),
        (99_99_999, "₹1.00 crore", "₹99,99,999"),  # 100.00 lakh is a crore
        (1_25_00_000, "₹1.25 crore", "₹1,25,00,000"),
        (-39_200, "−₹39,200", "−₹39,200"),
        (-10_06_500, "−₹10.07 lakh", "−₹10,06,500"),
    ],
)
def test_rupees_headline_and_exact(value: float, headline: str, exact: str) -> None:
    assert rupees(value) == headline
    assert rupees(value, exact=True) == exact
    assert rupees(value, True) == exact  # positional, as callers may pass it


@pytest.mark.parametrize("missing", [None, float("nan"), math.nan])
def test_missing_money_is_a_dash(missing: float | None) -> None:
    assert rupees(missing) == "—" and signed_rupees(missing) == "—" and indian(missing) == "—"


def test_a_change_carries_its_sign() -> None:
    assert signed_rupees(-39_200) == "−₹39,200"
    assert signed_rupees(12_000) == "+₹12,000"
    assert signed_rupees(1_20_000) == "+₹1.20 lakh"
    assert signed_rupees(1_20_000, exact=True) == "+₹1,20,000"
    assert signed_rupees(0) == "₹0"


def test_a_range_says_its_unit_once() -> None:
    assert rupee_range(8_05_000, 12_58_000) == "₹8.05 – ₹12.58 lakh"
    assert rupee_range(95_000, 1_20_000) == "₹95,000 – ₹1.20 lakh"
    assert rupee_range(90_00_000, 1_10_00_000) == "₹90.00 lakh – ₹1.10 crore"


def test_axis_ticks_are_round_and_written_the_indian_way() -> None:
    axis = rupee_ticks(0, 12_00_000)
    assert axis["tickvals"][:3] == [0, 5_00_000, 10_00_000]
    assert axis["ticktext"][:3] == ["₹0", "₹5 lakh", "₹10 lakh"]
    assert rupee_ticks(0, 60_000)["ticktext"][:3] == ["₹0", "₹20,000", "₹40,000"]
    assert rupee_ticks(0, 3_00_00_000)["ticktext"][1] == "₹1 crore"
    km = ticks(1_000, 5_00_000)
    assert km["ticktext"][:3] == ["0", "2,00,000", "4,00,000"]
    assert max(km["tickvals"]) >= 5_00_000
