"""Which Celery workers are alive: asked of the broker itself, the way `celery inspect ping`
does, so `status` names the workers that answer rather than the processes that exist."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def live_workers(broker_url: str, timeout: float = 2.0) -> list[str]:
    """Names (``celery@airflow-worker-1``, …) of the workers that answer a ping, sorted.

    An unreachable broker raises (the caller reports it); no answer is an empty list."""
    from celery import Celery

    app = Celery("carprice-status", broker=broker_url)
    try:
        replies = app.control.ping(timeout=timeout) or []
    finally:
        app.close()
    return sorted(name for reply in replies for name in reply)


def safe_url(url: str) -> str:
    """``url`` without its password, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))
