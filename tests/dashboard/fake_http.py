"""Fake Airflow and MLflow servers for the dashboard tests: a real HTTP server on 127.0.0.1.

The dashboard's Airflow client (apache-airflow-client, on urllib3) and its registry lookups
(MlflowClient, on requests) can't be handed an `httpx.MockTransport`, so the fakes answer
behind a real socket. Handlers keep httpx's types: each request arrives as an
`httpx.Request` (method, URL, headers, body) and the handler returns an `httpx.Response`.

* A handler that raises `httpx.TransportError` (e.g. `httpx.ConnectError`) makes the server
  drop the connection without answering, as a server that went away mid-call does.
* Any other exception (a failed `assert` inside a handler) is answered with HTTP 500 and kept
  in `errors`; `stop_all()`, run after every dashboard test by an autouse fixture in
  `conftest.py`, re-raises the first one, so an assertion in a handler fails its test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

Handler = Callable[[httpx.Request], httpx.Response]

#: Servers started by `serve` and not yet stopped (stopped after each test).
RUNNING: list[FakeServer] = []


class FakeServer:
    """One handler behind `http://127.0.0.1:<free port>`; every request is also in `requests`."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self.errors: list[BaseException] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def answer(self, request: httpx.Request) -> httpx.Response | None:
        """The handler's response; None means: drop the connection."""
        self.requests.append(request)
        try:
            return self.handler(request)
        except httpx.TransportError:
            return None
        except BaseException as exc:  # noqa: BLE001 - reported by stop_all()
            self.errors.append(exc)
            return httpx.Response(500, json={"detail": f"fake server: {exc!r}"})


def serve(handler: Handler) -> FakeServer:
    """Start a fake server for `handler`; it is stopped after the test."""
    server = FakeServer(handler).start()
    RUNNING.append(server)
    return server


def stop_all() -> None:
    """Stop every running fake server; re-raise the first exception a handler raised."""
    servers = list(RUNNING)
    RUNNING.clear()
    for server in servers:
        server.stop()
    errors = [e for s in servers for e in s.errors]
    if errors:
        raise errors[0]


def _make_handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: nothing stale to reuse

        def _dispatch(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            host = self.headers.get("Host") or f"127.0.0.1:{server._httpd.server_address[1]}"
            request = httpx.Request(
                self.command, f"http://{host}{self.path}", headers=dict(self.headers.items()),
                content=body,
            )  # fmt: skip
            response = server.answer(request)
            if response is None:
                self.close_connection = True  # nothing written: the client sees a dropped line
                return
            content = response.read()
            self.send_response(response.status_code)
            for name, value in response.headers.items():
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _dispatch

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            """Quiet: the tests read stderr for leaked secrets, not for request lines."""

    return _Handler
