"""A registry like a real one: TLS with a CA of its own and htpasswd logins
(tests/engine/engine.sh starts it as oh-registry.test:5443). Everything that talks to a
registry works against it once logged in; without a login, or with a wrong password,
a bake or a lock stops at once with one line naming the registry and `docker login`."""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import BASE_CONFIG
from tests.e2e.conftest import BIN, DAEMON, LOGS, REPO, sh
from tests.e2e.timings import timed

OH = str(BIN / "oh-builder")
HOST = "oh-registry.test:5443"  # tests/engine/engine.sh: 127.0.0.1 in /etc/hosts
TLS_DIR = Path(os.environ.get("OH_ENGINE_DIR", "/var/lib/oh-builder-engine")) / "registry-tls"
USER = "oh-test"
BASE = f"{HOST}/oh-test/busybox:static"


def docker_config(where: Path, password: str | None) -> dict[str, str]:
    """The environment of a client with a Docker config of its own: the machine's buildx
    builders, and a login to the TLS registry with ``password`` (None: no login)."""
    where.mkdir(parents=True)
    home = Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker"))
    for part in ("instances", "current", "defaults"):
        src = home / "buildx" / part
        if src.is_dir():
            shutil.copytree(src, where / "buildx" / part)
        elif src.is_file():
            (where / "buildx").mkdir(exist_ok=True)
            shutil.copy(src, where / "buildx" / part)
    auths = {}
    if password is not None:
        auths[HOST] = {"auth": base64.b64encode(f"{USER}:{password}".encode()).decode()}
    (where / "config.json").write_text(json.dumps({"auths": auths}))
    return {"DOCKER_CONFIG": str(where)}


@pytest.fixture(scope="module")
def password(engine: None) -> str:
    path = TLS_DIR / "password"
    if not path.is_file():
        pytest.fail(f"{path}: no TLS registry here; `make engine` starts it")
    return path.read_text().strip()


def tls_config(tmp_path: Path) -> Path:
    """The sample config with every repository, and one base, in the TLS registry."""
    head = BASE_CONFIG.replace("127.0.0.1:5000/openhands/", f"{HOST}/openhands/")
    head = head.replace('platforms = ["linux/amd64", "linux/arm64"]', 'platforms = ["linux/amd64"]')
    cfg = tmp_path / "builder.toml"
    cfg.write_text(head + f'[[bases]]\nimage = "{BASE}"\nname = "busybox"\n')
    return cfg


def test_bake_lock_verify_against_a_tls_registry_with_logins(
    baked: dict[str, object], password: str, tmp_path: Path
) -> None:
    env = docker_config(tmp_path / "docker", password)
    # `docker login` itself, through dockerd (which trusts the CA by certs.d).
    login = sh("docker", "login", HOST, "-u", USER, "--password-stdin", env=env, check=False,
               input_text=password)  # fmt: skip
    assert login.returncode == 0, login.stderr
    # A base in that registry (buildx's imagetools copies it across registries).
    sh("docker", "buildx", "imagetools", "create", "-t", BASE,
       "127.0.0.1:5000/oh-test/busybox:static", env=env)  # fmt: skip
    cfg = tls_config(tmp_path)
    # The sample app (verify starts it), its source new on every run: new runtime tags.
    shutil.copytree(REPO / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "app" / "action_server" / "nonce.py").write_text(f"# {tmp_path}\n")
    lock = sh(OH, "lock", "-c", str(cfg), env=env)
    assert "2 image(s), 2 resolved" in lock.stdout, lock.stdout
    out = ["--output", str(tmp_path / "build"), "-c", str(cfg)]
    meta = tmp_path / "meta.json"
    with timed("bake to the TLS registry with a login (amd64, busybox): pushed, cache exported"):
        sh(OH, "bake", "--push", "--builder", DAEMON, "--progress", "plain", *out,
           "--metadata-file", str(meta), env=env, log=LOGS / "tls-bake.log")  # fmt: skip
    log = (LOGS / "tls-bake.log").read_text()
    status = {d["target"]: d["status"] for d in json.loads(meta.read_text())}
    assert status["runtime-busybox"] == "built" and status["deps"] in ("built", "exists"), status
    assert "exporting cache to registry" in log and "ERROR (ignored)" not in log, log[-3000:]
    # Skip-existing reads the registry with the login: nothing is built again.
    with timed("bake again to the TLS registry: every tag exists"):
        sh(OH, "bake", "--push", "--builder", DAEMON, "--progress", "plain", *out,
           "--metadata-file", str(meta), env=env, log=LOGS / "tls-bake-again.log")  # fmt: skip
    assert {d["status"] for d in json.loads(meta.read_text())} == {"exists"}
    # The registry cache is read through TLS and the login (a forced runtime build).
    sh(OH, "runtime", "busybox", "--push", "--force", "--builder", DAEMON, "--progress",
       "plain", *out, env=env, log=LOGS / "tls-runtime-forced.log")  # fmt: skip
    forced = (LOGS / "tls-runtime-forced.log").read_text()
    assert f"importing cache manifest from {HOST}/openhands/runtime-cache" in forced, forced[-3000:]
    for key in ("deps-amd64--main", "runtime-busybox-amd64--main"):  # what the bake exported
        ref = f"{HOST}/openhands/runtime-cache:{key}"
        assert f"importing cache manifest from {ref}" in forced, forced[-3000:]
        assert f"registry cache importer: {ref}" not in forced, forced[-3000:]
    # verify pulls the image through dockerd with the login.
    tags = json.loads(sh(OH, "tags", "--json", "-c", str(cfg), env=env).stdout)
    r = sh(OH, "verify", "--json", tags["runtime"][BASE], env=env, check=False)
    report = json.loads(r.stdout)
    assert report["ok"] and r.returncode == 0, report


@pytest.mark.parametrize("login", ["none", "wrong password"])
def test_no_login_stops_at_once_with_one_line(
    baked: dict[str, object], password: str, tmp_path: Path, app_dir: Path, login: str
) -> None:
    env = docker_config(tmp_path / "docker", None if login == "none" else password + "x")
    cfg = tls_config(tmp_path)
    lock = sh(OH, "lock", "--update", "-c", str(cfg), env=env, check=False)
    said = [line for line in lock.stderr.splitlines() if line.strip()]
    assert lock.returncode == 3 and len(said) == 1, (lock.returncode, said)
    assert f"docker login {HOST}" in said[0], said
    # Locked with the right login; the bake without it.
    sh(OH, "lock", "-c", str(cfg), env=docker_config(tmp_path / "ok", password))
    r = sh(OH, "bake", "--push", "--builder", DAEMON, "--progress", "plain",
           "--output", str(tmp_path / "build"), "-c", str(cfg), env=env, check=False)  # fmt: skip
    said = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 3, (r.returncode, said)
    assert len(said) == 1 and f"docker login {HOST}" in said[0] and HOST in said[0], said
    assert "Traceback" not in r.stdout + r.stderr
