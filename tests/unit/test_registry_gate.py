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


# --------------------------------------------------------------------------- approve, rollback


class _Registry:
    """An in-memory registry with MlflowClient's alias and tag calls (one model)."""

    def __init__(self, versions: int) -> None:
        self.tags: dict[str, dict[str, str]] = {str(v): {} for v in range(1, versions + 1)}
        self.aliases: dict[str, str] = {}

    def get_model_version_by_alias(self, name: str, alias: str) -> Any:
        from mlflow.exceptions import MlflowException

        if alias not in self.aliases:
            raise MlflowException(f"alias {alias} not found")
        return type("MV", (), {"version": self.aliases[alias]})()

    def get_model_version(self, name: str, version: str) -> Any:
        return type("MV", (), {"tags": dict(self.tags[version])})()

    def set_model_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        self.tags[version][key] = value

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        self.aliases[alias] = version

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self.aliases.pop(alias)

    def search_model_versions(self, *args: Any, **kwargs: Any) -> list[Any]:
        return [
            type("MV", (), {"version": v, "tags": dict(t), "creation_timestamp": int(v) * 1000})()
            for v, t in self.tags.items()
        ]


def test_approve_then_rollback_records_why_and_restores_the_previous_champion() -> None:
    reg = _Registry(3)
    registry._make_champion(reg, "m", "1", "gate", "no champion yet", None)
    registry._make_champion(reg, "m", "2", "gate", "beats the champion beyond noise", "1")
    reg.aliases["challenger"] = "3"
    done = registry.approve("m", reason="better on new sales", by="ops", client=reg)
    assert done["version"] == "3" and done["previous"] == "2"
    assert reg.aliases == {"champion": "3"}  # the challenger alias went with the approval
    assert reg.tags["3"]["carprice.promotion"] == "approval"
    assert reg.tags["3"]["carprice.replaced"] == "2"
    assert "approved by ops: better on new sales" in reg.tags["3"]["carprice.promotion_reason"]
    with pytest.raises(registry.RegistryActionError, match="no challenger"):
        registry.approve("m", client=reg)
    with pytest.raises(registry.RegistryActionError, match="say why"):
        registry.rollback("m", " ", client=reg)

    back = registry.rollback("m", "quotes 20% low on SUVs", by="ops", client=reg)
    assert back == {"version": "2", "previous": "3", "at": back["at"]}
    assert reg.aliases["champion"] == "2"
    assert reg.tags["3"]["carprice.rolled_back"] == "rollback by ops: quotes 20% low on SUVs"
    assert reg.tags["2"]["carprice.promotion"] == "rollback"
    # A second rollback goes on to the champion before that, never back to the bad one.
    assert registry.rollback("m", "still wrong", client=reg)["version"] == "1"
    with pytest.raises(registry.RegistryActionError, match="nothing to go back to"):
        registry.rollback("m", "again", client=reg)

    reigns = registry.history("m", client=reg)
    assert [(r.version, r.how, r.replaced) for r in reigns] == [
        ("1", "rollback", "2"),
        ("2", "rollback", "3"),
        ("3", "approval", "2"),
        ("2", "gate", "1"),
        ("1", "gate", None),
    ]
    assert reigns[0].until is None and reigns[1].until == reigns[0].went_live
    assert reigns[2].end_reason == "rollback by ops: quotes 20% low on SUVs"
