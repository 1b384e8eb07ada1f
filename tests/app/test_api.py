from __future__ import annotations

import base64
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from action_server.envclean import agent_environment

from tests.app.client import Client as ApiClient


def test_alive(client: ApiClient) -> None:
    r = client.get("/alive")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_state_persists(client: ApiClient, workdir: Path) -> None:
    r = client.post("/execute", json={"command": "mkdir -p sub && cd sub && export FOO=bar"})
    assert r.json()["exit_code"] == 0
    r = client.post("/execute", json={"command": "pwd; echo $FOO"})
    assert r.json() == {
        "exit_code": 0,
        "output": f"{workdir.resolve()}/sub\nbar\n",
        "timed_out": False,
        "truncated": False,
    }


def test_exit_code_and_utf8(client: ApiClient) -> None:
    r = client.post("/execute", json={"command": "echo héllo ☃; false"})
    assert r.json()["exit_code"] == 1 and r.json()["output"] == "héllo ☃\n"
    r = client.post("/execute", json={"command": r"printf 'a\377b\n'"})
    assert r.json()["output"] == "a\ufffdb\n"


def test_timeout_interrupts_and_session_survives(client: ApiClient) -> None:
    client.post("/execute", json={"command": "export KEEP=1"})
    r = client.post("/execute", json={"command": "echo start; sleep 30", "timeout": 1})
    body = r.json()
    assert body["timed_out"] is True and "start" in body["output"]
    assert "timed out" in body["output"]
    r = client.post("/execute", json={"command": "echo $KEEP", "timeout": 5})
    assert r.json()["output"] == "1\n"


def test_a_shell_that_exits_says_so_and_is_started_again(client: ApiClient) -> None:
    """A shell that ends (or never starts: a launcher that cannot run) is reported at
    once, not after the command's timeout; the next command gets a new shell."""
    r = client.post("/execute", json={"command": "exit 7", "timeout": 600})
    body = r.json()
    assert body["exit_code"] == -1 and body["timed_out"] is False, body
    assert "shell exited" in body["output"], body
    r = client.post("/execute", json={"command": "echo again", "timeout": 30})
    assert r.json()["output"] == "again\n"


def test_files_roundtrip(client: ApiClient, workdir: Path) -> None:
    r = client.post("/files/write", json={"path": "a/b.txt", "content": "ünïcode\n"})
    assert r.status_code == 200
    assert (workdir / "a/b.txt").read_text() == "ünïcode\n"
    assert client.post("/files/read", json={"path": "a/b.txt"}).json() == {"content": "ünïcode\n"}
    assert client.post("/files/read", json={"path": "missing"}).status_code == 404


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "a/../../x", "link/x", "link", ""])
def test_traversal_rejected(client: ApiClient, workdir: Path, path: str) -> None:
    (workdir / "link").symlink_to("/etc")
    for endpoint, body in (
        ("/files/read", {"path": path}),
        ("/files/write", {"path": path, "content": "x"}),
    ):
        r = client.post(endpoint, json=body)
        assert r.status_code == 400, (endpoint, path, r.text)
        assert "error" in r.json()


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"command": 5}',
        b"{}",
        b'{"command": "x", "timeout": -1}',
        b"[]",
        b'{"command": "x", "extra": 1}',
    ],
)
def test_bad_requests_are_4xx_json(client: ApiClient, body: bytes) -> None:
    r = client.post("/execute", content=body, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500 and "error" in r.json()
    assert client.get("/alive").status_code == 200


def test_api_key(client: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OH_SESSION_API_KEY", "s3cret")
    assert client.get("/alive").status_code == 200
    assert client.post("/execute", json={"command": "true"}).status_code == 401
    r = client.post(
        "/execute",
        json={"command": "echo ${OH_SESSION_API_KEY:-unset}"},
        headers={"X-Session-API-Key": "s3cret"},
    )
    assert r.status_code == 200
    bad = client.post("/files/read", json={"path": "x"}, headers={"X-Session-API-Key": "no"})
    assert bad.status_code == 401


def test_agent_environment_drops_the_server_secret() -> None:
    env = {"PATH": "/usr/bin", "LD_LIBRARY_PATH": "/base/lib", "OH_SESSION_API_KEY": "k"}
    assert agent_environment(env) == {"PATH": "/usr/bin", "LD_LIBRARY_PATH": "/base/lib"}


@pytest.fixture
def page_server(tmp_path: Path) -> Iterator[str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(
        "<html><head><title>Test Page</title></head>"
        "<body style='background:#fff'><h1>Hello from the page</h1></body></html>"
    )

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: object, **kw: object) -> None:
            super().__init__(*a, directory=str(site), **kw)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()


def test_browse(client: ApiClient, page_server: str) -> None:
    r = client.post("/browse", json={"url": page_server})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["title"] == "Test Page"
    assert "Hello from the page" in body["text"]
    png = base64.b64decode(body["screenshot_png_base64"])
    assert png.startswith(b"\x89PNG") and len(png) > 1000


def test_browse_bad_url(client: ApiClient) -> None:
    assert client.post("/browse", json={"url": "ftp://x"}).status_code == 400
