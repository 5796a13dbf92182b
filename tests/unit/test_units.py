"""Every unit notation present in the real CarDekho file parses to the right number."""

from __future__ import annotations

import pytest

from carprice.units import KGM_TO_NM, parse_engine, parse_mileage, parse_power, parse_torque


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("23.4 kmpl", 23.4),
        ("26.6 km/kg", 26.6),
        ("17 KMPL", 17.0),
        ("", None),
        (None, None),
        (" kmpl", None),
    ],
)
def test_mileage(cell: str | None, expected: float | None) -> None:
    assert parse_mileage(cell) == expected


@pytest.mark.parametrize(
    ("cell", "expected"), [("1248 CC", 1248.0), ("796 cc", 796.0), ("", None), ("1497", 1497.0)]
)
def test_engine(cell: str, expected: float | None) -> None:
    assert parse_engine(cell) == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("74 bhp", 74.0),
        ("103.52 bhp", 103.52),
        (" bhp", None),
        ("bhp", None),
        ("0", 0.0),
        ("", None),
    ],
)
def test_power(cell: str, expected: float | None) -> None:
    assert parse_power(cell) == expected


@pytest.mark.parametrize(
    ("cell", "nm", "rpm"),
    [
        ("190Nm@ 2000rpm", 190.0, 2000.0),
        ("250Nm@ 1500-2500rpm", 250.0, 2500.0),
        ("12.7@ 2,700(kgm@ rpm)", round(12.7 * KGM_TO_NM, 2), 2700.0),
        ("20.4@ 1400-3400(kgm@ rpm)", round(20.4 * KGM_TO_NM, 2), 3400.0),
        ("22.4 kgm at 1750-2750rpm", round(22.4 * KGM_TO_NM, 2), 2750.0),
        ("11.5@ 4,500(kgm@ rpm)", round(11.5 * KGM_TO_NM, 2), 4500.0),
        ("4.8kgm@ 3000rpm", round(4.8 * KGM_TO_NM, 2), 3000.0),
        ("24 KGM at 1900-2750 RPM", round(24 * KGM_TO_NM, 2), 2750.0),
        ("110(11.2)@ 4800", 110.0, 4800.0),
        ("380Nm(38.7kgm)@ 2500rpm", 380.0, 2500.0),
        ("51Nm@ 4000+/-500rpm", 51.0, 4000.0),
        ("48@ 3,000+/-500(NM@ rpm)", 48.0, 3000.0),
        ("210 / 1900", 210.0, 1900.0),
        ("400 Nm /2000 rpm", 400.0, 2000.0),
        ("400Nm", 400.0, None),
        ("250@ 1250-5000rpm", 250.0, 5000.0),
        ("250Nm@ 1500~4500rpm", 250.0, 4500.0),
        ("135.4Nm@ 2500", 135.4, 2500.0),
        ("215Nm@ 1750-3000", 215.0, 3000.0),
        ("190 Nm at 1750  rpm ", 190.0, 1750.0),
        ("115nm@ 4000rpm", 115.0, 4000.0),
        ("320NM@ 1700-2700rpm", 320.0, 2700.0),
        ("145@ 4,100(kgm@ rpm)", 145.0, 4100.0),  # mislabelled: 145 kgm would be 1,422 Nm
        ("", None, None),
    ],
)
def test_torque_notations(cell: str, nm: float | None, rpm: float | None) -> None:
    assert parse_torque(cell) == (nm, rpm)


@pytest.mark.parametrize("cell", ["lots of power", "twenty kmpl"])
def test_unreadable_cells_raise_with_reason(cell: str) -> None:
    with pytest.raises(ValueError, match=repr(cell).replace("(", r"\(")):
        parse_mileage(cell)
    with pytest.raises(ValueError, match="torque"):
        parse_torque(cell)
