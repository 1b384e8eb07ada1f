"""Registries that fail, for the fault table (docs/reliability.md): an HTTP proxy in
front of the local registry that answers every N-th request with 500 or 429
(alternately, up to a limit) instead of passing it on, and a registry of its own that a
test can kill and start again, on a disk it chooses."""

from __future__ import annotations

import http.client
import json
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"}
CHUNK = 1 << 20


@dataclass
class Faults:
    """Every ``every``-th request fails, ``limit`` at most; what happened."""

    every: int
    limit: int
    seen: int = 0
    injected: list[tuple[int, str, str]] = field(default_factory=list)  # status, method, path
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, method: str, path: str) -> int:
        """The status to answer with instead of passing the request on (0: pass it)."""
        with self.lock:
            self.seen += 1
            if self.seen % self.every or len(self.injected) >= self.limit:
                return 0
            status = (500, 429)[len(self.injected) % 2]
            self.injected.append((status, method, path))
            return status


def _handler(upstream: str, faults: Faults) -> type[BaseHTTPRequestHandler]:
    host, port = upstream.split(":")

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _body(self) -> Iterator[bytes]:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return
                    yield self.rfile.read(size)
                    self.rfile.readline()
            left = int(self.headers.get("Content-Length") or 0)
            while left > 0:
                data = self.rfile.read(min(CHUNK, left))
                if not data:
                    return
                left -= len(data)
                yield data

        def _any(self) -> None:
            status = faults.fail(self.command, self.path)
            if status:
                for _ in self._body():  # read what was sent, then answer
                    pass
                body = json.dumps(
                    {"errors": [{"code": "UNKNOWN", "message": f"injected {status}"}]}
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True
                return
            conn = http.client.HTTPConnection(host, int(port), timeout=600)
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            chunked = self.headers.get("Transfer-Encoding", "").lower() == "chunked"
            for k, v in self.headers.items():
                if k.lower() not in HOP:
                    conn.putheader(k, v)
            if chunked:
                conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for data in self._body():
                conn.send(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            if chunked:
                conn.send(b"0\r\n\r\n")
            resp = conn.getresponse()
            length = resp.getheader("Content-Length")
            payload = b"" if length is not None or self.command == "HEAD" else resp.read()
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            if self.command != "HEAD" or length is not None:
                self.send_header("Content-Length", length or str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                if payload:
                    self.wfile.write(payload)
                else:
                    while data := resp.read(CHUNK):
                        self.wfile.write(data)
            conn.close()

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _any

        def log_message(self, *args: object) -> None:
            pass

    return Proxy


@contextmanager
def flaky_registry(listen: str, upstream: str, faults: Faults) -> Iterator[Faults]:
    """``listen`` (host:port) proxies ``upstream`` with ``faults`` while the block runs."""
    host, port = listen.split(":")
    server = ThreadingHTTPServer((host, int(port)), _handler(upstream, faults))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield faults
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class ScratchRegistry:
    """A registry of its own (``docker-registry serve``, plain HTTP on ``addr``) whose
    process a test may kill and start again, on storage it chooses (a small tmpfs)."""

    addr: str
    root: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        config = self.root.parent / f"{self.root.name}.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {self.root}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.addr}\n"
        )
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                ["docker-registry", "serve", str(config)], stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://{self.addr}/v2/", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        raise AssertionError(f"the scratch registry on {self.addr} did not start; see {self.log}")

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def stored(self) -> int:
        """Bytes of blob data on its disk."""
        blobs = self.root / "docker/registry/v2/blobs"
        return sum(p.stat().st_size for p in blobs.rglob("data")) if blobs.is_dir() else 0


@contextmanager
def scratch_registry(addr: str, root: Path, log: Path) -> Iterator[ScratchRegistry]:
    root.mkdir(parents=True, exist_ok=True)
    registry = ScratchRegistry(addr=addr, root=root, log=log)
    registry.start()
    try:
        yield registry
    finally:
        registry.kill()
