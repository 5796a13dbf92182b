"""The API-key gate on the pricing and sale endpoints (`/predict*`, `/quotes*`), when
CARPRICE_API_KEY is set.

FastAPI parses a request's body (JSON, multipart upload) before it runs the route's
dependencies, so a key checked only as a dependency lets a caller without a key learn why
their body is invalid (422) and make the server read a 128 MiB upload first. This pure ASGI
middleware refuses such a request with a 401 before a byte of the body is read;
`deps.check_api_key` stays on the router for the OpenAPI contract.
"""

from __future__ import annotations

import json
import secrets

from starlette.types import ASGIApp, Receive, Scope, Send

from api.config import ApiSettings, get_api_settings

HEADER = "X-API-Key"
REFUSED = f"Missing or wrong API key: send it in the {HEADER} header."


def key_ok(sent: str | None, settings: ApiSettings) -> bool:
    """True when no key is configured, or `sent` is the key (constant-time comparison)."""
    expected = settings.key.get_secret_value() if settings.key else ""
    if not expected:
        return True
    return bool(sent) and secrets.compare_digest(sent.encode(), expected.encode())


def key_name(settings: ApiSettings) -> str | None:
    """The name recorded with a quote or sale for the key that let the request in: "default"
    for CARPRICE_API_KEY, None when the API is open. Called only after `key_ok` passed; named
    keys will map the sent key to its name here."""
    return "default" if settings.key and settings.key.get_secret_value() else None


def is_pricing(path: str) -> bool:
    """The paths behind the key: pricing and the quotes' sales."""
    return any(path == p or path.startswith(p + "/") for p in ("/predict", "/quotes"))


class ApiKeyGate:
    """401 on `/predict*` and `/quotes*` without the right key, before the body is read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_pricing(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        raw = dict(scope["headers"]).get(HEADER.lower().encode())
        sent = raw.decode("latin-1") if raw is not None else None
        if key_ok(sent, get_api_settings()):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"detail": REFUSED}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", HEADER.encode()),
                    (b"connection", b"close"),  # the unread body can't precede another request
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
