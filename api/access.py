"""The API-key gate on the pricing and sale endpoints (`/predict*`, `/quotes*`), when a key
is configured (CARPRICE_API_KEY or the named keys of CARPRICE_API_KEYS_FILE, `api.keys`).

FastAPI parses a request's body (JSON, multipart upload) before it runs the route's
dependencies, so a key checked only as a dependency lets a caller without a key learn why
their body is invalid (422) and make the server read a 128 MiB upload first. This pure ASGI
middleware refuses such a request with a 401 before a byte of the body is read;
`deps.check_api_key` stays on the router for the OpenAPI contract.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from api.keys import key_ring

HEADER = "X-API-Key"
REFUSED = f"Missing or wrong API key: send it in the {HEADER} header."


def key_name(sent: str | None) -> str | None:
    """The name of the key `sent` is (see `api.keys`), or None."""
    return key_ring().match(sent)


def key_ok(sent: str | None) -> bool:
    """True when no key is configured, or `sent` is one of the keys in force."""
    ring = key_ring()
    return not ring.configured or ring.match(sent) is not None


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
        ring = key_ring()
        name = ring.match(sent)
        if name is not None or not ring.configured:
            # The routes record it with the request's quotes (request.state.api_key_name).
            scope.setdefault("state", {})["api_key_name"] = name
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
