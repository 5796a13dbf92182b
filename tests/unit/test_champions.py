"""The champions' history built from version tags (what the Model page shows)."""

from __future__ import annotations

import json

from carprice import champions


def test_history_from_events_and_from_versions_before_events() -> None:
    live = champions.live_tags(
        {}, at="2026-12-01T10:00:00Z", how="gate", reason="beats", replaced="1", rollback_to="1"
    )
    v1_retired = champions.retired_tags(
        {}, at="2026-12-01T10:00:00Z", how="gate", reason="beats", replaced_by="2"
    )
    versions = [
        # v1: promoted before events were recorded (registered at 2026-11-30T00:00:00Z)
        ("1", {"gate.verdict": "promoted", "gate.reason": "no champion yet", **v1_retired},
         1_795_996_800_000),
        ("2", live, 1_796_100_000_000),
        ("3", {"gate.verdict": "rejected"}, 1_796_200_000_000),  # never live
    ]  # fmt: skip
    # v1 has a retired event but no live event: its legacy start still counts.
    versions[0][1].pop("carprice.events")
    reigns = champions.history(versions)
    assert [r.version for r in reigns] == ["2", "1"]
    assert reigns[0].replaced == "1" and reigns[0].until is None and reigns[0].how == "gate"
    assert reigns[1].went_live == "2026-11-30T00:00:00.000000Z"
    assert reigns[1].until == "2026-12-01T10:00:00Z" and reigns[1].ended_by == "2"
    assert champions.previous_champion(reigns) == "1"


def test_events_are_capped_and_bad_tags_ignored() -> None:
    tags: dict[str, str] = {}
    for i in range(30):
        tags["carprice.events"] = champions.with_event(tags, {"event": "live", "at": str(i)})
    kept = json.loads(tags["carprice.events"])
    assert len(kept) == champions.MAX_EVENTS and kept[-1]["at"] == "29"
    assert champions.events({"carprice.events": "not json"}) == []
