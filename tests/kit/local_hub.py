"""A Hugging Face hub on 127.0.0.1 for the pull tests: the hub's URLs and headers, never the internet.

It serves ``root/<org>/<name>/...`` as model repositories at one fixed commit: the revision info
(``/api/models/ID/revision/REV``), the recursive tree with git blob SHA-1s and, for weight files,
LFS SHA-256s (``/api/models/ID/tree/REV``), and the files (``/ID/resolve/REV/PATH``, HEAD and GET
with ``Range``). Faults on request: ``gated`` repositories answer 403 GatedRepo, ``truncate``
cuts the first N file bodies after half their bytes (the client sees the connection drop),
``broken`` names files whose every body is cut after its first 32 KB, and
``requests`` records every request line with its Range header.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"
LFS_SUFFIXES = (".bin", ".safetensors", ".ckpt")


class LocalHub:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.gated: set[str] = set()
        self.truncate = 0          # cut this many more file bodies half-way
        self.broken: set[str] = set()  # file names whose bodies always stop after 32 KB
        self.requests: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_HEAD(self):
                hub._serve(self, body=False)

            def do_GET(self):
                hub._serve(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "LocalHub":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- the repositories ---------------------------------------------------------------------------

    def files(self, repo_id: str) -> dict[str, Path]:
        folder = self.root / repo_id
        return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}

    @staticmethod
    def entry(path: str, file: Path) -> dict:
        data = file.read_bytes()
        item = {"type": "file", "path": path, "size": len(data),
                "oid": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()}
        if path.endswith(LFS_SUFFIXES):
            item["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
        return item

    # -- HTTP ---------------------------------------------------------------------------------------

    def _send(self, handler, status: int, body: bytes = b"", headers: dict | None = None, send_body=True):
        handler.send_response(status)
        for key, value in (headers or {}).items():
            handler.send_header(key, str(value))
        if "Content-Length" not in (headers or {}):
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if send_body and body:
            handler.wfile.write(body)

    def _error(self, handler, status: int, code: str, send_body: bool):
        self._send(handler, status, json.dumps({"error": code}).encode(),
                   {"X-Error-Code": code, "Content-Type": "application/json"}, send_body)

    def _serve(self, handler, body: bool) -> None:
        parsed = urlparse(handler.path)
        path = unquote(parsed.path)
        with self._lock:
            self.requests.append((handler.command, path, handler.headers.get("Range", "")))
        if path.startswith("/api/models/"):
            rest = path[len("/api/models/"):]
            kind, repo_id = "/revision/", rest  # /api/models/ID: the info at the default branch
            for marker in ("/revision/", "/tree/"):
                if marker in rest:
                    kind, repo_id = marker, rest.split(marker)[0]
            if not (self.root / repo_id).is_dir():
                return self._error(handler, 404, "RepoNotFound", body)
            if repo_id in self.gated:
                return self._error(handler, 403, "GatedRepo", body)
            files = self.files(repo_id)
            if kind == "/revision/":
                info = {"id": repo_id, "modelId": repo_id, "sha": COMMIT, "private": False,
                        "siblings": [{"rfilename": p} for p in files]}
            else:
                info = [self.entry(p, f) for p, f in files.items()]
            return self._send(handler, 200, json.dumps(info).encode(), {"Content-Type": "application/json"}, body)
        if "/resolve/" not in path:
            return self._error(handler, 404, "RepoNotFound", body)
        repo_id, rest = path.lstrip("/").split("/resolve/", 1)
        filename = rest.split("/", 1)[1] if "/" in rest else ""
        if not (self.root / repo_id).is_dir():
            return self._error(handler, 404, "RepoNotFound", body)
        if repo_id in self.gated:
            return self._error(handler, 403, "GatedRepo", body)
        files = self.files(repo_id)
        if filename not in files:
            return self._error(handler, 404, "EntryNotFound", body)
        data = files[filename].read_bytes()
        entry = self.entry(filename, files[filename])
        etag = entry["lfs"]["oid"] if "lfs" in entry else entry["oid"]
        headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{etag}"', "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream"}
        start = 0
        wanted = handler.headers.get("Range", "")
        if wanted.startswith("bytes="):
            start = int(wanted[6:].split("-")[0] or 0)
        if not body:
            return self._send(handler, 200, b"", {**headers, "Content-Length": len(data)}, False)
        chunk = data[start:]
        status = 206 if start else 200
        if start:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        headers["Content-Length"] = len(chunk)
        with self._lock:
            cut = self.truncate > 0 and len(chunk) > 1
            if cut:
                self.truncate -= 1
        keep = 32 * 1024 if filename in self.broken else len(chunk) // 2
        cut = cut or (filename in self.broken and len(chunk) > keep)
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, str(value))
        handler.end_headers()
        if cut:  # half the body, then the connection drops
            handler.wfile.write(chunk[:keep])
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        handler.wfile.write(chunk)
