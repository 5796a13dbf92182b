"""What happened to each model version, as recorded in its tags, and the champions' history.

Pure functions with no MLflow import, so the dashboard can build the history from the tags it
reads. `carprice.registry` writes the tags (gate, approval, rollback); this module defines
their shape:

* ``carprice.events``: a JSON list of events on the version, oldest first, each
  ``{"event": "live" | "retired", "at": ISO time, "how": "gate" | "approval" | "rollback",
  "reason": …, "replaced": version | None}`` ("replaced_by" on a retired event);
* flat tags for the latest go-live: ``carprice.live_since``, ``carprice.replaced``,
  ``carprice.promotion`` (how), ``carprice.promotion_reason``; ``carprice.rollback_to``: the
  version a rollback from this one restores; ``carprice.rolled_back``: the reason, on a
  version that was rolled back.

Versions registered before these tags existed count as having gone live when they were
registered, if the gate promoted them (``gate.verdict=promoted``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from carprice import names

ROLLBACK_TO_TAG = "carprice.rollback_to"
#: Events kept per version (a tag value has a size limit); reasons are cut to this length.
MAX_EVENTS = 20
MAX_REASON = 400


def now_iso(ts: float | None = None) -> str:
    """UTC ISO time to the microsecond (events seconds apart must still sort)."""
    moment = datetime.now(UTC) if ts is None else datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def events(tags: Mapping[str, str]) -> list[dict[str, Any]]:
    """A version's recorded events, oldest first ([] when none or unreadable)."""
    try:
        value = json.loads(tags.get(names.EVENTS_TAG) or "[]")
    except ValueError:
        return []
    return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []


def with_event(tags: Mapping[str, str], event: dict[str, Any]) -> str:
    """The events tag's new value with ``event`` appended (the oldest dropped past the cap)."""
    event = {**event, "reason": str(event.get("reason") or "")[:MAX_REASON]}
    return json.dumps((events(tags) + [event])[-MAX_EVENTS:], ensure_ascii=False)


def live_tags(
    tags: Mapping[str, str], *, at: str, how: str, reason: str, replaced: str | None,
    rollback_to: str | None,
) -> dict[str, str]:  # fmt: skip
    """Tags to set on a version that becomes champion now."""
    event = {"event": "live", "at": at, "how": how, "reason": reason, "replaced": replaced}
    return {
        names.EVENTS_TAG: with_event(tags, event),
        names.LIVE_SINCE_TAG: at,
        names.REPLACED_TAG: replaced or "",
        names.PROMOTION_TAG: how,
        names.PROMOTION_REASON_TAG: reason[:MAX_REASON],
        ROLLBACK_TO_TAG: rollback_to or "",
    }


def retired_tags(
    tags: Mapping[str, str], *, at: str, how: str, reason: str, replaced_by: str
) -> dict[str, str]:
    """Tags to set on the champion that is being replaced now."""
    event = {"event": "retired", "at": at, "how": how, "reason": reason,
             "replaced_by": replaced_by}  # fmt: skip
    out = {names.EVENTS_TAG: with_event(tags, event)}
    if how == "rollback":
        out[names.ROLLED_BACK_TAG] = reason[:MAX_REASON]
    return out


@dataclass(frozen=True)
class Reign:
    """One period as champion: which version, from when to when, what it replaced and why."""

    version: str
    went_live: str  # ISO time, UTC
    how: str  # gate | approval | rollback | gate (before history was recorded)
    replaced: str | None
    reason: str
    until: str | None  # None: still live
    ended_by: str | None = None  # the version that replaced it
    end_reason: str = ""  # e.g. the rollback's reason


def history(versions: Iterable[tuple[str, Mapping[str, str], int | None]]) -> list[Reign]:
    """Champions newest first, from ``(version, tags, created ms)`` of every version.

    A version that went live twice (restored by a rollback) has two reigns. Versions without
    recorded events count from their registration if the gate promoted them then.
    """
    starts: list[tuple[str, str, dict[str, Any]]] = []
    retired: dict[tuple[str, str], dict[str, Any]] = {}
    for version, tags, created in versions:
        recorded = events(tags)
        for e in recorded:
            if e.get("event") == "live":
                starts.append((str(e.get("at") or ""), str(version), e))
            elif e.get("event") == "retired":
                retired[(str(version), str(e.get("at") or ""))] = e
        if not recorded and tags.get("gate.verdict") == "promoted":
            at = now_iso(created / 1000) if created else ""
            legacy = {"how": "gate", "reason": tags.get("gate.reason", ""), "replaced": None}
            starts.append((at, str(version), legacy))
    starts.sort(key=lambda s: (s[0], _number(s[1])))
    reigns: list[Reign] = []
    for i, (at, version, e) in enumerate(starts):
        nxt = starts[i + 1] if i + 1 < len(starts) else None
        replaced = e.get("replaced") or (reigns[-1].version if reigns else None)
        end = None
        if nxt is not None:
            end = next(
                (r for (v, t), r in retired.items() if v == version and at <= t <= nxt[0]), None
            )
        reigns.append(
            Reign(
                version=version,
                went_live=at,
                how=str(e.get("how") or "gate"),
                replaced=str(replaced) if replaced else None,
                reason=str(e.get("reason") or ""),
                until=nxt[0] if nxt else None,
                ended_by=nxt[1] if nxt else None,
                end_reason=str((end or {}).get("reason") or "") if end else "",
            )
        )
    return list(reversed(reigns))


def previous_champion(reigns: list[Reign]) -> str | None:
    """The champion the live one replaced (newest-first ``history``), or None."""
    if not reigns:
        return None
    return reigns[0].replaced or (reigns[1].version if len(reigns) > 1 else None)


def _number(version: str) -> int:
    try:
        return int(version)
    except ValueError:
        return 0
