"""A cargo registry on 127.0.0.1 for tests: the sparse index protocol plus the publish web API.

What cargo speaks to it (https://doc.rust-lang.org/cargo/reference/registry-index.html and
registry-web-api.html):

- ``GET /index/config.json``: ``{"dl": ..., "api": ..., "auth-required": false}``;
- ``GET /index/<path>``: one JSON line per published version, at cargo's path rules
  (``1/a``, ``2/ab``, ``3/a/abc``, ``ab/cd/abcd...``, lower-cased);
- ``PUT /api/v1/crates/new``: u32 LE JSON length, the JSON metadata, u32 LE crate length,
  the ``.crate`` tarball; the ``Authorization`` header must carry the token;
- ``GET /api/v1/crates/<name>/<version>/download``: the ``.crate`` file.

The server keeps everything in memory, refuses a version it already has (as crates.io does),
and records each request so tests can assert what cargo really sent.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TOKEN = "test-registry-token-0123456789"


def index_path(name: str) -> str:
    """Cargo's index file path for a crate name."""
    lower = name.lower()
    if len(lower) == 1:
        return f"1/{lower}"
    if len(lower) == 2:
        return f"2/{lower}"
    if len(lower) == 3:
        return f"3/{lower[0]}/{lower}"
    return f"{lower[0:2]}/{lower[2:4]}/{lower}"


def parse_publish_body(body: bytes) -> tuple[dict[str, Any], bytes]:
    """Split a publish request body into its JSON metadata and the .crate bytes."""
    if len(body) < 4:
        raise ValueError("body shorter than the JSON length field")
    (json_len,) = struct.unpack_from("<I", body, 0)
    end = 4 + json_len
    if len(body) < end + 4:
        raise ValueError("body shorter than its JSON length says")
    metadata = json.loads(body[4:end].decode("utf-8"))
    (crate_len,) = struct.unpack_from("<I", body, end)
    crate = body[end + 4 : end + 4 + crate_len]
    if len(crate) != crate_len:
        raise ValueError(f"crate is {len(crate)} bytes, the length field says {crate_len}")
    return metadata, crate


def index_entry(metadata: dict[str, Any], crate: bytes) -> dict[str, Any]:
    """The index line for a published version (the web API and the index name fields differently)."""
    deps = []
    for dep in metadata.get("deps", []):
        renamed = dep.get("explicit_name_in_toml")
        deps.append({
            "name": renamed or dep["name"],
            "req": dep["version_req"],
            "features": dep.get("features", []),
            "optional": dep.get("optional", False),
            "default_features": dep.get("default_features", True),
            "target": dep.get("target"),
            "kind": dep.get("kind", "normal"),
            "registry": dep.get("registry"),
            "package": dep["name"] if renamed else None,
        })
    features = metadata.get("features", {})
    # Features using `dep:` or `?/` syntax must go to features2 (index format v2).
    new_syntax = any("dep:" in v or "?/" in v for values in features.values() for v in values)
    entry: dict[str, Any] = {
        "name": metadata["name"],
        "vers": metadata["vers"],
        "deps": deps,
        "cksum": hashlib.sha256(crate).hexdigest(),
        "features": {} if new_syntax else features,
        "yanked": False,
        "links": metadata.get("links"),
        "v": 2 if new_syntax else 1,
    }
    if new_syntax:
        entry["features2"] = features
    if metadata.get("rust_version"):
        entry["rust_version"] = metadata["rust_version"]
    return entry


@dataclass
class Published:
    metadata: dict[str, Any]
    crate: bytes
    entry: dict[str, Any]


@dataclass
class RegistryState:
    crates: dict[str, list[Published]] = field(default_factory=dict)  # lower-cased name -> versions
    requests: list[tuple[str, str, int]] = field(default_factory=list)  # (method, path, status)
    fail_publish: set[str] = field(default_factory=set)  # crate names whose publish answers 500
    lock: threading.Lock = field(default_factory=threading.Lock)

    def versions(self, name: str) -> list[str]:
        with self.lock:
            return [p.metadata["vers"] for p in self.crates.get(name.lower(), [])]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean; requests are recorded in state.requests

    # -- helpers
    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with self.server.state.lock:
            self.server.state.requests.append((self.command, self.path, status))

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode())

    def _error(self, status: int, detail: str) -> None:
        self._json(status, {"errors": [{"detail": detail}]})

    # -- routes
    def do_GET(self) -> None:
        state = self.server.state
        path = self.path.split("?", 1)[0]
        if path == "/index/config.json":
            base = f"http://127.0.0.1:{self.server.server_port}"
            self._json(200, {"dl": f"{base}/api/v1/crates", "api": base, "auth-required": False})
            return
        if path.startswith("/index/"):
            name = path.rsplit("/", 1)[-1]
            if path != f"/index/{index_path(name)}":
                self._send(404, b"not found", "text/plain")
                return
            with state.lock:
                published = list(state.crates.get(name.lower(), []))
            if not published:
                self._send(404, b"not found", "text/plain")
                return
            body = "".join(json.dumps(p.entry) + "\n" for p in published).encode()
            self._send(200, body, "text/plain")
            return
        parts = path.strip("/").split("/")
        if len(parts) == 6 and parts[:3] == ["api", "v1", "crates"] and parts[5] == "download":
            name, version = parts[3], parts[4]
            with state.lock:
                found = [p for p in state.crates.get(name.lower(), []) if p.metadata["vers"] == version]
            if not found:
                self._error(404, f"no crate {name} {version}")
                return
            self._send(200, found[0].crate, "application/gzip")
            return
        self._error(404, f"no route for GET {path}")

    def do_PUT(self) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path != "/api/v1/crates/new":
            self._error(404, f"no route for PUT {self.path}")
            return
        if self.headers.get("Authorization") != self.server.token:
            self._error(HTTPStatus.FORBIDDEN, "invalid or missing API token")
            return
        try:
            metadata, crate = parse_publish_body(body)
        except (ValueError, UnicodeDecodeError, struct.error) as exc:
            self._error(400, f"malformed publish body: {exc}")
            return
        name, version = metadata["name"], metadata["vers"]
        if name in state.fail_publish:
            self._error(500, f"the test registry was told to refuse {name}")
            return
        with state.lock:
            versions = state.crates.setdefault(name.lower(), [])
            if any(p.metadata["vers"] == version for p in versions):
                taken = True
            else:
                taken = False
                versions.append(Published(metadata, crate, index_entry(metadata, crate)))
        if taken:
            self._error(409, f"crate version `{name}@{version}` is already uploaded")
            return
        self._json(200, {"warnings": {"invalid_categories": [], "invalid_badges": [], "other": []}})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: RegistryState, token: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state
        self.token = token


@dataclass
class Registry:
    """A running registry and a CARGO_HOME that knows it as ``[registries.<name>]``."""

    name: str
    port: int
    cargo_home: Path
    state: RegistryState
    token: str

    @property
    def index_url(self) -> str:
        return f"sparse+http://127.0.0.1:{self.port}/index/"

    def env(self) -> dict[str, str]:
        """Environment for cargo (and the pipeline) to use this registry offline from crates.io."""
        env = dict(os.environ)
        env["CARGO_HOME"] = str(self.cargo_home)
        env.pop("CARGO_REGISTRY_TOKEN", None)
        # The toolchain lives in the user's rustup home; CARGO_HOME only moves config and caches.
        return env

    def versions(self, name: str) -> list[str]:
        return self.state.versions(name)


def write_cargo_home(cargo_home: Path, name: str, index_url: str, token: str) -> None:
    cargo_home.mkdir(parents=True, exist_ok=True)
    (cargo_home / "config.toml").write_text(
        f'[registries.{name}]\nindex = "{index_url}"\n\n'
        "[net]\n# the tests never reach the network: only this registry on 127.0.0.1\noffline = false\n"
        'retry = 0\n\n[http]\ntimeout = 30\n',
        encoding="utf-8",
    )
    (cargo_home / "credentials.toml").write_text(f'[registries.{name}]\ntoken = "{token}"\n', encoding="utf-8")


def start_registry(cargo_home: Path, name: str = "test", token: str = TOKEN) -> Iterator[Registry]:
    """Start the server in a thread; yields the Registry, shuts it down afterwards."""
    state = RegistryState()
    server = _Server(state, token)
    thread = threading.Thread(target=server.serve_forever, name="cargo-test-registry", daemon=True)
    thread.start()
    port = server.server_port
    try:
        registry = Registry(name, port, cargo_home, state, token)
        write_cargo_home(cargo_home, name, registry.index_url, token)
        yield registry
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def start_mirror(cargo_home: Path) -> Iterator[Registry]:
    """The test registry, also standing in for crates.io (source replacement, as a company mirror does)."""
    for registry in start_registry(cargo_home):
        config = registry.cargo_home / "config.toml"
        config.write_text(config.read_text() + '\n[source.crates-io]\nreplace-with = "test"\n')
        yield registry
