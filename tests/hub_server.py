"""A loopback HTTP server that answers ``huggingface_hub`` the way the Hugging Face Hub does.

Downloads: ``HEAD/GET /{repo_id}/resolve/{revision}/{filename}`` on the "hub" answers 302 to a
"CDN" server (another origin, so the client reads the file metadata off the redirect): headers
``X-Repo-Commit``, ``X-Linked-Etag`` (the sha256), ``X-Linked-Size``, ``Location``. Unknown
files answer 404 with ``X-Error-Code: EntryNotFound``.

Uploads (``HfApi.create_repo`` + ``upload_folder``, as ``push_to_hub`` uses them):
``POST /api/repos/create``, ``POST /api/validate-yaml``, ``POST /api/models/{repo}/preupload/{rev}``
(every file "regular": its bytes travel base64 in the commit) and ``POST
/api/models/{repo}/commit/{rev}`` (ndjson). A commit gets a content-derived 40-hex id, moves the
branch, and its files are then served at the branch and at the commit id.

Both servers bind 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class _File:
    data: bytes
    etag: str
    commit: str


@dataclass
class _Hub:
    files: dict[tuple[str, str, str], _File] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    branches: dict[tuple[str, str], str] = field(default_factory=dict)
    repos: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, repo_id: str, revision: str, filename: str, data: bytes, advertised_sha256: str | None = None) -> None:
        """Serve ``data``; ``advertised_sha256`` lets a test advertise an etag other than the content's."""
        sha = advertised_sha256 or hashlib.sha256(data).hexdigest()
        self.files[(repo_id, revision, filename)] = _File(data, sha, COMMIT)
        self.blobs[sha] = data
        self.repos.add(repo_id)

    def commit(self, repo_id: str, branch: str, added: dict[str, bytes]) -> str:
        """Record a commit of ``added`` on ``branch``; return its id."""
        with self.lock:
            parent = self.branches.get((repo_id, branch), "")
            snapshot = {name: f.data for (repo, rev, name), f in self.files.items() if repo == repo_id and rev == parent}
            snapshot.update(added)
            digest = hashlib.sha1(parent.encode())
            for name in sorted(snapshot):
                digest.update(name.encode() + b"\0" + hashlib.sha256(snapshot[name]).digest())
            commit = digest.hexdigest()
            for name, data in snapshot.items():
                sha = hashlib.sha256(data).hexdigest()
                self.blobs[sha] = data
                for revision in (commit, branch):
                    self.files[(repo_id, revision, name)] = _File(data, sha, commit)
            self.branches[(repo_id, branch)] = commit
            return commit


def _handler(hub: _Hub, origins: dict[str, str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._download(body=False)

        def do_GET(self) -> None:
            self._download(body=True)

        def do_POST(self) -> None:
            hub.requests.append(f"POST {self.path}")
            hub.authorizations.append(self.headers.get("Authorization", ""))
            length = int(self.headers.get("Content-Length") or 0)
            payload = self.rfile.read(length)
            parts = self.path.split("?", 1)[0].split("/")
            if self.path.startswith("/api/repos/create"):
                request = json.loads(payload)
                repo_id = f"{request['organization']}/{request['name']}" if request.get("organization") else request["name"]
                hub.repos.add(repo_id)
                return self._json(200, {"url": f"{origins['hub']}/{repo_id}", "name": repo_id})
            if self.path.startswith("/api/validate-yaml"):
                return self._json(200, {"errors": [], "warnings": []})
            if len(parts) == 7 and parts[1:3] == ["api", "models"] and parts[5] in ("preupload", "commit"):
                repo_id, revision = f"{parts[3]}/{parts[4]}", parts[6]
                if repo_id not in hub.repos:
                    return self._json(404, {"error": "Repository not found"}, error_code="RepoNotFound")
                if parts[5] == "preupload":
                    files = json.loads(payload)["files"]
                    return self._json(200, {"files": [
                        {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None} for f in files
                    ]})
                return self._commit(repo_id, revision, payload)
            return self._json(404, {"error": f"no such endpoint {self.path}"})

        def _commit(self, repo_id: str, revision: str, payload: bytes) -> None:
            added = {}
            for line in payload.splitlines():
                item = json.loads(line)
                if item["key"] == "file":
                    added[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                elif item["key"] != "header":
                    return self._json(400, {"error": f"unsupported commit item {item['key']}"})
            commit = hub.commit(repo_id, revision, added)
            return self._json(200, {"commitUrl": f"{origins['hub']}/{repo_id}/commit/{commit}", "commitOid": commit})

        def _json(self, status: int, body: dict, error_code: str | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if error_code:
                self.send_header("X-Error-Code", error_code)
            self.end_headers()
            self.wfile.write(data)

        def _download(self, body: bool) -> None:
            hub.requests.append(f"{self.command} {self.path}")
            parts = self.path.split("/")
            if len(parts) >= 6 and parts[3] == "resolve":
                entry = hub.files.get((f"{parts[1]}/{parts[2]}", parts[4], "/".join(parts[5:])))
                if entry is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("X-Error-Message", "Entry not found")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(302)
                self.send_header("Location", f"{origins['cdn']}/blobs/{entry.etag}")
                self.send_header("X-Repo-Commit", entry.commit)
                self.send_header("X-Linked-Etag", f'"{entry.etag}"')
                self.send_header("X-Linked-Size", str(len(entry.data)))
                self.send_header("ETag", f'"{entry.etag}"')
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
    hub, origins = _Hub(), {}
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub, origins)) for _ in range(2)]
    origins["hub"], origins["cdn"] = (f"http://127.0.0.1:{s.server_address[1]}" for s in servers)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    try:
        yield origins["hub"], hub
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
