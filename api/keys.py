"""Named API keys: one per client (the dashboard, each integration), rotated without a restart.

Keys come from `CARPRICE_API_KEY` (named "default") and from the JSON file
`CARPRICE_API_KEYS_FILE`, `{"dashboard": "<key>", "dealer-portal": "<key>"}`. The file is
read again whenever it changes (its size or modification time), so a key is added, rotated
or revoked by rewriting it; write a new file and rename it over the old one, so a request
never sees half a file. A file that can't be read or is invalid keeps the keys read before
(and says why in the log) rather than locking every client out; at start-up it stops the
service instead. The name of the key that let a request in is recorded with its quotes.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from api.config import ApiSettings, get_api_settings

log = logging.getLogger("api.keys")
DEFAULT_NAME = "default"


class KeyFileError(ValueError):
    """The keys file is unreadable or not a JSON object of distinct, non-empty keys."""


def parse(text: str, source: str) -> dict[str, str]:
    """`{name: key}` from the file's text, checked."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeyFileError(f"{source} is not JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(data, dict):
        raise KeyFileError(f'{source} must be a JSON object {{"name": "key", …}}')
    keys: dict[str, str] = {}
    for name, key in data.items():
        if not isinstance(key, str) or len(key.strip()) < 8:
            raise KeyFileError(f"{source}: the key of {name!r} must be a string of 8+ characters")
        if not name.strip():
            raise KeyFileError(f"{source}: a key needs a name")
        if key in keys.values():
            raise KeyFileError(f"{source}: {name!r} repeats another name's key")
        keys[name] = key
    return keys


@dataclass
class KeyRing:
    """The keys in force; `match` re-reads the file first when it has changed."""

    env_key: str | None
    path: Path | None
    _keys: dict[str, str] = field(default_factory=dict)
    _stamp: tuple[int, int] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> KeyRing:
        """Raises KeyFileError (a failed start) when the file is there but invalid."""
        env_key = settings.key.get_secret_value() if settings.key else None
        path = Path(settings.keys_file) if settings.keys_file else None
        ring = cls(env_key or None, path)
        ring._refresh(strict=True)
        return ring

    def _refresh(self, strict: bool = False) -> None:
        if self.path is None:
            return
        try:
            stat = os.stat(self.path)
        except FileNotFoundError as exc:
            if strict:
                raise KeyFileError(f"CARPRICE_API_KEYS_FILE {self.path} does not exist") from exc
            log.error("API keys file %s is gone; keeping the %d keys read before",
                      self.path, len(self._keys))  # fmt: skip
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        with self._lock:
            if stamp == self._stamp:
                return
            try:
                keys = parse(self.path.read_text(encoding="utf-8"), str(self.path))
            except (OSError, UnicodeDecodeError, KeyFileError) as exc:
                if strict:
                    raise KeyFileError(str(exc)) from exc
                log.error("%s; keeping the %d keys read before", exc, len(self._keys))
                self._stamp = stamp  # don't re-read a bad file on every request
                return
            if self.env_key and DEFAULT_NAME in keys:
                log.warning("%s names a key %r: CARPRICE_API_KEY's name wins", self.path,
                            DEFAULT_NAME)  # fmt: skip
            self._keys, self._stamp = keys, stamp
            log.info("API keys read from %s: %s", self.path, ", ".join(sorted(keys)) or "none")

    def names(self) -> dict[str, str]:
        """Every key in force by name (the file's, then CARPRICE_API_KEY as "default")."""
        self._refresh()
        out = dict(self._keys)
        if self.env_key:
            out[DEFAULT_NAME] = self.env_key
        return out

    @property
    def configured(self) -> bool:
        """Whether any key is required (an empty keys file still means: keys required)."""
        return bool(self.env_key) or self.path is not None

    def match(self, sent: str | None) -> str | None:
        """The name of the key `sent` is, or None. Every key is compared in constant time."""
        if not sent:
            return None
        found = None
        for name, key in self.names().items():
            if secrets.compare_digest(sent.encode(), key.encode()):
                found = name
        return found


_current: list[tuple[ApiSettings, KeyRing]] = []


def key_ring() -> KeyRing:
    """The ring for the current settings (rebuilt when tests swap the settings object)."""
    settings = get_api_settings()
    if not _current or _current[0][0] is not settings:
        _current[:] = [(settings, KeyRing.from_settings(settings))]
    return _current[0][1]
