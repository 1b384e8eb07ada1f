"""The fault table's rows that kill or fill a component (docs/reliability.md): on a
registry of their own and on the second runner, never on what the suite builds on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BASE_CONFIG
from tests.e2e.conftest import BIN, DAEMON, LOGS, REPO, lock_config, sh
from tests.e2e.faults import scratch_registry
from tests.e2e.test_faults import missing_blobs
from tests.e2e.timings import timed
from tests.scale.conftest import RUNNER2_ENV

OH = str(BIN / "oh-builder")
SCRATCH = "127.0.0.1:5002"  # tests/engine/buildkitd.sh lets the daemon speak HTTP to it


def config(tmp_path: Path, registry: str) -> Path:
    """The sample config (amd64, the busybox base) pushing to ``registry``."""
    head = BASE_CONFIG.replace("127.0.0.1:5000/openhands/", f"{registry}/openhands/")
    head = head.replace('platforms = ["linux/amd64", "linux/arm64"]', 'platforms = ["linux/amd64"]')
    cfg = tmp_path / "builder.toml"
    base = '[[bases]]\nimage = "127.0.0.1:5000/oh-test/busybox:static"\nname = "busybox"\n'
    cfg.write_text(head + base)
    lock_config(cfg)
    return cfg


def tags_missing_blobs(addr: str) -> dict[str, list[str]]:
    """Every tag the registry holds whose manifests name a blob it does not have."""
    with urllib.request.urlopen(f"http://{addr}/v2/_catalog", timeout=30) as r:
        repos = json.load(r)["repositories"]
    bad = {}
    for repo in repos:
        try:
            with urllib.request.urlopen(f"http://{addr}/v2/{repo}/tags/list", timeout=30) as r:
                tags = json.load(r).get("tags") or []
        except urllib.error.HTTPError as exc:  # blobs but no tag yet: "name unknown"
            if exc.code != 404:
                raise
            tags = []
        for tag in tags:
            missing = missing_blobs(f"{addr}/{repo}:{tag}")
            if missing:
                bad[f"{repo}:{tag}"] = missing
    return bad


def bake(cfg: Path, out: Path, *extra: str, builder: str = DAEMON) -> list[str]:
    return [
        OH, "bake", "--push", "--builder", builder, "--progress", "plain", "-c", str(cfg),
        "--output", str(out), "--metadata-file", str(out.parent / f"{out.name}.json"), *extra,
    ]  # fmt: skip


def wait_for(test: object, proc: subprocess.Popen[bytes], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not test() and proc.poll() is None:  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} did not happen in {timeout} s"
        time.sleep(0.2)
    assert proc.poll() is None, f"the bake ended before {what}"


def test_registry_killed_mid_push(engine: None, tmp_path: Path, app_dir: Path) -> None:
    """SIGKILL of the registry while the deps image's blobs are pushed, then a restart:
    the bake fails and says so, no tag points at a missing blob, and the rerun completes
    pushing only what is missing."""
    cfg = config(tmp_path, SCRATCH)
    log = LOGS / "scale-registry-killed.log"
    with scratch_registry(SCRATCH, tmp_path / "registry", LOGS / "scratch-registry.log") as reg:
        with log.open("w") as f, timed("registry SIGKILLed mid-push, then the rerun") as fig:
            proc = subprocess.Popen(
                bake(cfg, tmp_path / "build"), stdout=f, stderr=subprocess.STDOUT, cwd=REPO
            )
            wait_for(lambda: reg.stored() > 50e6, proc, 900, "50 MB reached the registry")
            reg.kill()
            killed_at, stored = time.monotonic(), reg.stored()
            code = proc.wait(timeout=600)
            fig["exit"] = str(code)
            fig["seconds from the kill to the exit"] = f"{time.monotonic() - killed_at:.1f}"
            fig["MB stored when killed"] = f"{stored / 1e6:.0f}"
            reg.start()  # the same storage
            assert not tags_missing_blobs(SCRATCH)
            before = reg.stored()
            sh(*bake(cfg, tmp_path / "rerun"), log=LOGS / "scale-registry-killed-rerun.log")
            fig["MB pushed by the rerun"] = f"{(reg.stored() - before) / 1e6:.0f}"
            fig["MB stored in all"] = f"{reg.stored() / 1e6:.0f}"
        text = log.read_text()
        assert code == 4, text[-3000:]
        assert "target(s) failed" in text, text[-3000:]
        done = json.loads((tmp_path / "rerun.json").read_text())
        assert {d["status"] for d in done} <= {"built", "exists"}, done
        assert not tags_missing_blobs(SCRATCH)
        # What had reached the registry before the kill is not sent again.
        assert before > 0 and reg.stored() - before < reg.stored(), (before, reg.stored())


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 200 MB tmpfs: less than the deps image."""
    where = tmp_path / "small"
    where.mkdir()
    sh("mount", "-t", "tmpfs", "-o", "size=200m", "tmpfs", str(where))
    yield where
    sh("umount", "-l", str(where))


def test_registry_out_of_space(
    engine: None, tmp_path: Path, app_dir: Path, small_disk: Path
) -> None:
    """The registry's disk fills up mid-push: the bake fails naming the registry, and no
    tag points at a missing blob."""
    cfg = config(tmp_path, SCRATCH)
    with scratch_registry(SCRATCH, small_disk / "registry", LOGS / "scratch-registry.log") as reg:
        with timed("registry out of space (200 MB) under a bake") as fig:
            r = sh(
                *bake(cfg, tmp_path / "build"), log=LOGS / "scale-registry-full.log", check=False
            )
            fig["exit"] = str(r.returncode)
            fig["MB stored"] = f"{reg.stored() / 1e6:.0f}"
        text = (LOGS / "scale-registry-full.log").read_text()
        assert r.returncode == 4, text[-3000:]
        errors = [line for line in text.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "target(s) failed" in errors[0], errors
        pushes = [line for line in text.splitlines() if f"failed to push {SCRATCH}/" in line]
        assert pushes, text[-3000:]  # buildx names the registry and what it answered
        assert not tags_missing_blobs(SCRATCH)


def test_daemon_killed_mid_bake(runner2: str, tmp_path: Path, app_dir: Path) -> None:
    """SIGKILL of the BuildKit daemon a bake runs on: the bake stops with exit 4, no tag
    of the unfinished images exists; once the daemon is back, the rerun completes."""
    (app_dir / "action_server" / "__init__.py").write_text(f"# {time.time()}\n")  # new tags
    cfg = config(tmp_path, "127.0.0.1:5000")
    tags = json.loads(sh(OH, "tags", "--json", "-c", str(cfg)).stdout)
    pid_file = Path(RUNNER2_ENV["OH_ENGINE_DIR"]) / "buildkitd.pid"
    log = LOGS / "scale-daemon-killed.log"
    with log.open("w") as f, timed(f"{runner2} SIGKILLed mid-bake, restarted, the rerun") as fig:
        proc = subprocess.Popen(
            bake(cfg, tmp_path / "build", "--no-cache", "--no-cache-export", builder=runner2),
            stdout=f, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip
        wait_for(lambda: (tmp_path / "build" / ".oh-builder").exists(), proc, 120, "the start")
        time.sleep(20)  # well inside a --no-cache deps build
        assert proc.poll() is None, "the bake ended before the daemon was killed"
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        killed_at = time.monotonic()
        code = proc.wait(timeout=600)
        fig["exit"] = str(code)
        fig["seconds from the kill to the exit"] = f"{time.monotonic() - killed_at:.1f}"
        assert code == 4, log.read_text()[-3000:]
        runtime = tags["runtime"]["127.0.0.1:5000/oh-test/busybox:static"]
        registry_has = sh("docker", "buildx", "imagetools", "inspect", runtime, check=False)
        assert registry_has.returncode != 0, f"{runtime} was tagged by a killed bake"
        sh(
            "bash",
            "tests/engine/buildkitd.sh",
            env=RUNNER2_ENV,
            log=LOGS / "scale-runner2-restart.log",
        )
        t0 = time.monotonic()
        sh(*bake(cfg, tmp_path / "rerun", builder=runner2), log=LOGS / "scale-daemon-rerun.log")
        fig["rerun seconds"] = f"{time.monotonic() - t0:.1f}"
    done = json.loads((tmp_path / "rerun.json").read_text())
    assert {d["status"] for d in done} <= {"built", "exists"}, done
