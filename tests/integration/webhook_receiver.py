"""A real HTTP receiver on loopback that validates Standard Webhooks signatures."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


class Receiver:
    """Records every delivery; ``verified`` holds the payloads whose signature checked out."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.verified: list[dict[str, Any]] = []
        self.ids: list[str] = []
        self.rejected: list[str] = []
        self.status = 204
        self.hosts: list[str] = []  # the Host header of each request
        # When set, each request waits for the gate to open (a slow endpoint); ``waiting``
        # counts the requests held there.
        self.gate: threading.Event | None = None
        self.waiting = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {k: v for k, v in self.headers.items()}
                receiver.hosts.append(self.headers.get("host", ""))
                if receiver.gate is not None:
                    receiver.waiting += 1
                    receiver.gate.wait(60)
                try:
                    payload = Webhook(receiver.secret or "").verify(body, headers)
                except Exception as exc:  # a bad signature is recorded, not raised
                    receiver.rejected.append(str(exc))
                    self.send_response(400)
                    self.end_headers()
                    return
                receiver.verified.append(payload)
                receiver.ids.append(headers["webhook-id"])
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [p for p in self.verified if p["type"] == event_type]

    def dump(self) -> str:
        return json.dumps(self.verified, indent=1)
