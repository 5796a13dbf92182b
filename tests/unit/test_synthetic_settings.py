"""Synthetic sample generator and settings defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from carprice import synthetic
from carprice.schema import RAW_COLUMNS, TARGET
from carprice.settings import Settings, get_settings


def test_synthetic_sample_is_raw_format_and_labelled(tmp_path: Path) -> None:
    path = synthetic.ensure_sample(str(tmp_path))
    assert "SYNTHETIC" in Path(path).name
    frame = synthetic.generate(200, seed=1)
    assert set(RAW_COLUMNS) | {TARGET} == set(frame.columns)
    assert frame["mileage"].str.endswith(("kmpl", "km/kg", "")).all()


def test_cli_refuses_unlabelled_output(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        synthetic.main(["--out", str(tmp_path / "cars.csv")])


def test_settings_defaults_point_at_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("MLFLOW_TRACKING_URI", "CARPRICE_RAW_DATA", "CARPRICE_TRIALS"):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert s.mlflow_tracking_uri.startswith("sqlite:///")
    assert s.raw_data is None and s.model_alias == "champion"


def test_settings_read_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5001")
    monkeypatch.setenv("CARPRICE_TRIALS", "7")
    get_settings.cache_clear()
    try:
        assert get_settings().mlflow_tracking_uri == "http://127.0.0.1:5001"
        assert get_settings().trials == 7
    finally:
        get_settings.cache_clear()
