"""Priced Batch lots kept on the server, so a lot survives a full browser reload.

A reload (or a bookmark, or the tab restored after the laptop slept) starts a new Streamlit
session, and `st.session_state` starts empty. So when a lot is priced the page gives it a
random id, keeps the lot here and puts the id in the page's URL (`?lot=…`); a session that
opens with an id this store still holds shows that lot again. Clear removes it from both.

Why in memory and bounded. A lot is the whole table as read plus the API's answers (a
5,000-row lot is a few MB), and the store is one per dashboard process, shared by every
session. Kept without a bound, a day of uploads would grow the process until it died; so it
holds the last `limit` lots (CARPRICE_DASHBOARD_BATCH_LOTS_KEPT, 20 by default), the one
used longest ago forgotten first. A restart forgets them all: the link then says the lot is
no longer kept and asks for the file again, which is all a lost lot costs (the file is the
user's, and pricing it again takes seconds). No file on disk means no dealer's data left
behind in a temp folder either.

Ids are random (`secrets.token_urlsafe`), not the file's digest, so a link can't be guessed
from a file someone else might have priced; anyone given the link sees the lot, as they
would on the screen it came from.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

import streamlit as st

from dashboard.config import get_dashboard_settings

if TYPE_CHECKING:
    from dashboard.batch import Lot

PARAM = "lot"  # the URL query parameter holding the lot's id


class LotStore:
    """At most `limit` lots by id, least recently used forgotten first; thread-safe (every
    session's script thread shares one store)."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._lots: OrderedDict[str, Lot] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, lot: Lot) -> str:
        """Keep `lot`; returns its new id."""
        lot_id = secrets.token_urlsafe(12)
        with self._lock:
            self._lots[lot_id] = lot
            while len(self._lots) > self.limit:
                self._lots.popitem(last=False)
        return lot_id

    def get(self, lot_id: str | None) -> Lot | None:
        """The lot with this id, if still kept (it then counts as just used)."""
        with self._lock:
            lot = self._lots.get(lot_id or "")
            if lot is not None:
                self._lots.move_to_end(lot_id or "")
            return lot

    def drop(self, lot_id: str | None) -> None:
        with self._lock:
            self._lots.pop(lot_id or "", None)

    def __len__(self) -> int:
        return len(self._lots)

    def __contains__(self, lot_id: object) -> bool:
        return lot_id in self._lots


@st.cache_resource(show_spinner=False)
def lot_store() -> LotStore:
    """The dashboard process's one store."""
    return LotStore(get_dashboard_settings().batch_lots_kept)
