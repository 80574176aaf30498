"""A loopback HTTP server that answers ``hf_hub_download`` the way the Hugging Face Hub does.

``HEAD/GET /{repo_id}/resolve/{revision}/{filename}`` on the "hub" answers 302 to a "CDN"
server (another origin, so the client reads the file metadata off the redirect): headers
``X-Repo-Commit``, ``X-Linked-Etag`` (the sha256), ``X-Linked-Size``, ``Location``. Unknown
files answer 404 with ``X-Error-Code: EntryNotFound``. Both servers bind 127.0.0.1 only.
"""

from __future__ import annotations

import hashlib
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class _Hub:
    def __init__(self) -> None:
        self.files: dict[tuple[str, str, str], bytes] = {}
        self.blobs: dict[str, bytes] = {}
        self.requests: list[str] = []

    def add(self, repo_id: str, revision: str, filename: str, data: bytes, advertised_sha256: str | None = None) -> None:
        """Serve ``data``; ``advertised_sha256`` lets a test advertise an etag other than the content's."""
        sha = advertised_sha256 or hashlib.sha256(data).hexdigest()
        self.files[(repo_id, revision, filename)] = data
        self.blobs[sha] = data


def _handler(hub: _Hub, cdn_origin: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, body: bool) -> None:
            hub.requests.append(f"{self.command} {self.path}")
            parts = self.path.split("/")
            if len(parts) >= 6 and parts[3] == "resolve":
                key = (f"{parts[1]}/{parts[2]}", parts[4], "/".join(parts[5:]))
                data = hub.files.get(key)
                if data is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("X-Error-Message", "Entry not found")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                sha = next(s for s, blob in hub.blobs.items() if blob is data)
                self.send_response(302)
                self.send_header("Location", f"{cdn_origin[0]}/blobs/{sha}")
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("X-Linked-Etag", f'"{sha}"')
                self.send_header("X-Linked-Size", str(len(data)))
                self.send_header("ETag", f'"{sha}"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if len(parts) == 3 and parts[1] == "blobs" and parts[2] in hub.blobs:
                data = hub.blobs[parts[2]]
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                if body:
                    self.wfile.write(data)
                return
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


@contextmanager
def local_hub() -> Iterator[tuple[str, _Hub]]:
    """Start the hub and CDN servers; yields ``(endpoint URL, hub)``."""
    hub, cdn_origin = _Hub(), [""]
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub, cdn_origin)) for _ in range(2)]
    cdn_origin[0] = f"http://127.0.0.1:{servers[1].server_address[1]}"
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    try:
        yield f"http://127.0.0.1:{servers[0].server_address[1]}", hub
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
