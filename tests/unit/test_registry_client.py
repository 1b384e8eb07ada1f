"""registry.Client against a small registry on loopback (HTTP, in a thread): the scheme
dockerd would use, logins, and the errors, without any engine."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from builder.errors import EngineError
from builder.registry import Client

MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"digest": "sha256:" + "a" * 64, "platform": {"os": "linux", "architecture": "amd64"}}
        ],
    }
).encode()
USER, PASSWORD = "oh-test", "s3cret"


class Registry(BaseHTTPRequestHandler):
    """One image, ``repo:tag``; with ``login`` set, Basic auth for USER:PASSWORD."""

    login = False
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.requests.append(self.path)
        want = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if self.login and self.headers.get("Authorization") != want:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="test"')
            self.end_headers()
            return
        if self.path != "/v2/repo/manifests/tag":
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.oci.image.index.v1+json")
        self.send_header("Docker-Content-Digest", "sha256:" + hashlib.sha256(MANIFEST).hexdigest())
        self.end_headers()
        self.wfile.write(MANIFEST)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def registry() -> Iterator[tuple[str, type[Registry]]]:
    handler = type("R", (Registry,), {"requests": [], "login": False})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()


def config(tmp_path: Path, host: str, password: str | None) -> Path:
    auths = {}
    if password is not None:
        auths[host] = {"auth": base64.b64encode(f"{USER}:{password}".encode()).decode()}
    (tmp_path / "config.json").write_text(json.dumps({"auths": auths}))
    return tmp_path / "config.json"


def test_an_insecure_registry_falls_back_to_http_and_remembers(
    registry: tuple[str, type[Registry]], tmp_path: Path
) -> None:
    host, handler = registry
    client = Client(docker_config=config(tmp_path, host, None))
    first = client.resolve(f"{host}/repo:tag")
    assert first.platforms == {"linux/amd64": "sha256:" + "a" * 64}
    assert client.locate(f"{host}/repo:other").urls == (f"http://{host}", f"https://{host}")
    client.resolve(f"{host}/repo:tag")
    assert handler.requests == ["/v2/repo/manifests/tag"] * 2  # the TLS try is no request


def test_a_login_is_sent_and_a_missing_one_named(
    registry: tuple[str, type[Registry]], tmp_path: Path
) -> None:
    host, handler = registry
    handler.login = True
    for d in ("ok", "none", "bad"):
        (tmp_path / d).mkdir()
    ok = Client(docker_config=config(tmp_path / "ok", host, PASSWORD))
    assert ok.resolve(f"{host}/repo:tag").digest.startswith("sha256:")
    with pytest.raises(
        EngineError, match=rf"^{host}: the registry wants a login; run `docker login {host}`"
    ):
        Client(docker_config=config(tmp_path / "none", host, None)).resolve(f"{host}/repo:tag")
    with pytest.raises(
        EngineError, match=rf"^{host}: unauthorized to read repo \(401\); run `docker login {host}`"
    ):
        Client(docker_config=config(tmp_path / "bad", host, "wrong")).resolve(f"{host}/repo:tag")


def test_a_secure_registry_is_never_tried_over_http(tmp_path: Path) -> None:
    client = Client(insecure_cidrs=(), docker_config=tmp_path / "config.json")
    assert client.locate("127.0.0.1:5443/repo:tag").urls == ("https://127.0.0.1:5443",)
