"""The promotion gate's side in the registry, with MLflow stubbed out: when the champion
cannot be scored, nothing moves (the integration test does it with S3 really stopped)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from carprice import registry
from carprice.schema import TARGET


class _Client:
    """Records every write; the champion (version 1) exists."""

    def __init__(self) -> None:
        self.writes: list[tuple[Any, ...]] = []

    def get_model_version_by_alias(self, name: str, alias: str) -> object:
        return object()

    def set_model_version_tag(self, *args: Any) -> None:
        self.writes.append(("tag", *args))

    def set_registered_model_alias(self, *args: Any) -> None:
        self.writes.append(("alias", *args))


def test_gate_moves_nothing_when_the_champion_cannot_be_scored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = _Client()
    monkeypatch.setattr(registry, "MlflowClient", lambda: client)
    monkeypatch.setattr(registry, "alias_version", lambda name, alias: "1")

    def artifacts_unreachable(uri: str) -> None:
        raise ConnectionError("Could not connect to the endpoint URL")

    monkeypatch.setattr(registry.mlflow.pyfunc, "load_model", artifacts_unreachable)
    with pytest.raises(registry.GateUnavailable, match="ConnectionError.*nothing was promoted"):
        registry.promote("car_price", "2", pd.DataFrame({TARGET: [100_000.0]}))
    assert client.writes == []
