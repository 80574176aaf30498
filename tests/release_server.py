"""A loopback HTTP server standing in for the authors' GitHub release (``FALSR_ZOO_OFFICIAL_URL``).

It serves the files of a directory (``../shared/falsr-official``: ``/pretrained_model/FALSR-B.pb``)
and can misbehave on purpose: ``"404"`` (no file), ``"truncated"`` (announces the full length,
sends half, closes), ``"wrong"`` (same length, other bytes), ``"hang"`` (accepts the request and
never answers, until the server stops). Binds 127.0.0.1 only; every request is recorded.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

MODES = ("good", "404", "truncated", "wrong", "hang")


@dataclass
class Release:
    root: Path
    mode: str = "good"
    requests: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


def _handler(release: Release) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            release.requests.append(self.path)
            if release.mode == "hang":
                release.stop.wait(30)
                return
            path = (release.root / self.path.lstrip("/")).resolve()
            if release.mode == "404" or release.root.resolve() not in path.parents or not path.is_file():
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = path.read_bytes()
            if release.mode == "wrong":
                data = bytes(b ^ 0x5A for b in data[:64]) + data[64:]
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            self.wfile.write(data[: len(data) // 2] if release.mode == "truncated" else data)
            if release.mode == "truncated":
                self.close_connection = True

    return Handler


@contextmanager
def release_server(root: Path, mode: str = "good") -> Iterator[tuple[str, Release]]:
    """Serve ``root``; yields ``(base URL, release)`` (``release.mode`` may be changed while running)."""
    assert mode in MODES
    release = Release(root, mode)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(release))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", release
    finally:
        release.stop.set()
        server.shutdown()
        server.server_close()
