"""How bakes behave day to day: reruns, a bad base, the registry cache, cache warming."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import BASE_CONFIG
from tests.e2e import registry
from tests.e2e.buildlog import assert_all_cached
from tests.e2e.conftest import BIN, BUILDERS, DAEMON, DOCKER_DRIVER, LOGS, REPO, lock_config, sh
from tests.e2e.timings import timed
from tests.sample import SAMPLE_CONFIG

OH = str(BIN / "oh-builder")


def oh(*args: str, out: Path, log: str) -> None:
    """`oh-builder ARGS` on the sample profile, building in ``out``; log in LOGS."""
    sh(OH, *args, "-c", str(SAMPLE_CONFIG), "--output", str(out / "build"), log=LOGS / log)


def metadata(path: Path) -> dict[str, dict[str, object]]:
    return {d["target"]: d for d in json.loads(path.read_text())}


def test_second_bake_pushes_nothing(baked: dict[str, object], tmp_path: Path) -> None:
    meta = tmp_path / "meta.json"
    before = registry.storage()
    with timed("second bake of the same tree (make bake twice)") as f:
        sh(
            OH,
            "bake",
            "--push",
            "--progress",
            "quiet",
            "-c",
            str(SAMPLE_CONFIG),
            "--output",
            str(tmp_path / "build"),
            "--metadata-file",
            str(meta),
            log=LOGS / "bake-again.log",
        )
        after = registry.storage()
        f["targets skipped"] = str(len(metadata(meta)))
        f["registry blobs added"] = str(after[0] - before[0])
    statuses = {t: d["status"] for t, d in metadata(meta).items()}
    assert set(statuses.values()) == {"exists"}, statuses
    assert after == before, f"registry storage changed: {before} -> {after}"


@pytest.mark.parametrize("builder", BUILDERS)
def test_bad_base_does_not_stop_the_others(
    baked: dict[str, object], tmp_path: Path, app_dir: Path, builder: str
) -> None:
    """From the first run on: on a builder without any registry cache for these targets
    (a config of its own), a cache import is a miss and a target cancelled by another's
    failure is baked again, not counted as failed."""
    cfg = tmp_path / "builder.toml"
    cfg.write_text(
        BASE_CONFIG.replace(
            'platforms = ["linux/amd64", "linux/arm64"]', 'platforms = ["linux/amd64"]', 1
        )
        + '[[bases]]\nimage = "debian:bookworm"\n'
        + '[[bases]]\nimage = "127.0.0.1:5000/oh-test/does-not-exist:nope"\nname = "missing"\n'
    )
    lock_config(cfg, missing=["127.0.0.1:5000/oh-test/does-not-exist:nope"])
    (app_dir / "action_server" / "__main__.py").write_text(f"# {builder} {uuid.uuid4().hex}\n")
    meta = tmp_path / "meta.json"
    with timed(f"matrix with one bad base (amd64) on {builder}: the rest built, exit 4"):
        r = sh(
            OH,
            "bake",
            "--push",
            "--builder",
            builder,
            "--cache-branch",  # no registry cache under this branch: a first run's misses
            f"e2e-{uuid.uuid4().hex[:8]}",
            "--force",  # every target in the first bake, whatever earlier runs pushed
            "--progress",
            "plain",
            "-c",
            str(cfg),
            "--output",
            str(tmp_path / "build"),
            "--metadata-file",
            str(meta),
            "--no-cache-export",
            log=LOGS / f"bake-bad-base-{builder}.log",
            check=False,
        )
    assert r.returncode == 4
    data = metadata(meta)
    status = {t: d["status"] for t, d in data.items()}
    assert status["runtime-missing"] == "failed"
    assert status["runtime-debian-bookworm"] == "built"
    assert data["runtime-missing"]["log_tail"]
    # Keep-going stays parallel: one bake of everything, then one of what is left
    # (never a bake per target); each target's whole log is in OUTPUT/logs.
    missing_log = Path(str(data["runtime-missing"]["log"]))
    assert missing_log == tmp_path / "build" / "logs" / "runtime-missing.log"
    assert (
        f"runtime-missing (log: {missing_log})"
        in (LOGS / f"bake-bad-base-{builder}.log").read_text()
    )
    assert "does-not-exist" in missing_log.read_text()
    good_log = Path(str(data["runtime-debian-bookworm"]["log"])).read_text()
    bakes = re.findall(r"^== docker buildx bake (.*)$", good_log, re.M)
    assert bakes == ["deps runtime-debian-bookworm runtime-missing", "deps runtime-debian-bookworm"]


@pytest.fixture(scope="module")
def pruned(baked: dict[str, object], tmp_path_factory: pytest.TempPathFactory) -> None:
    """The docker driver's build cache wiped: only the registry cache remains. Its
    registry cache has tags of its own (`…--dockerd`: dockerd's BuildKit computes other
    cache keys than the daemon `baked` ran on), so one build exports them first: the
    bookworm runtime image for amd64 and its deps (from the cache after the first run)."""
    with timed(f"runtime (bookworm, amd64) on {DOCKER_DRIVER}, exporting its registry cache"):
        oh(
            "runtime", "debian:bookworm", "--platform", "linux/amd64", "--force",
            "--progress", "plain", "--builder", DOCKER_DRIVER,
            out=tmp_path_factory.mktemp("pruned"), log="docker-driver-cache.log",
        )  # fmt: skip
    sh("docker", "buildx", "prune", "-af", "--builder", DOCKER_DRIVER, log=LOGS / "prune.log")


@pytest.mark.parametrize("builder", BUILDERS)
def test_registry_cache_after_prune(pruned: None, tmp_path: Path, builder: str) -> None:
    """After `docker buildx prune -af` of the builder, a forced rebuild of deps is all
    CACHED: it comes from the registry cache."""
    if builder == DAEMON:
        sh("docker", "buildx", "prune", "-af", "--builder", DAEMON, log=LOGS / "prune-daemon.log")
    with timed(
        f"deps rebuild (amd64) on {builder} after buildx prune -af, from the registry cache"
    ):
        oh(
            "deps",
            "--platform",
            "linux/amd64",
            "--no-push",
            "--force",
            "--progress",
            "plain",
            "--builder",
            builder,
            out=tmp_path,
            log=f"deps-after-prune-{builder}.log",
        )
    log = (LOGS / f"deps-after-prune-{builder}.log").read_text()
    assert_all_cached(log)


@pytest.mark.parametrize("builder", BUILDERS)
def test_warm_then_local_load_is_cached(pruned: None, tmp_path: Path, builder: str) -> None:
    """`warm` fills the builder's own cache (a daemon warms itself; nothing is loaded),
    then a `--load` into dockerd's image store is all CACHED."""
    sh("docker", "buildx", "prune", "-af", "--builder", builder, log=LOGS / "prune-2.log")
    with timed(f"warm (bookworm, amd64) on {builder} after buildx prune -af"):
        oh(
            "warm",
            "--base",
            "debian:bookworm",
            "--platform",
            "linux/amd64",
            "--builder",
            builder,
            out=tmp_path,
            log=f"warm-{builder}.log",
        )
    with timed(f"runtime --load on {builder} after warm (all deps steps CACHED)"):
        oh(
            "runtime",
            "debian:bookworm",
            "--platform",
            "linux/amd64",
            "--load",
            "--force",
            "--progress",
            "plain",
            "--builder",
            builder,
            out=tmp_path,
            log=f"load-after-warm-{builder}.log",
        )
    assert_all_cached((LOGS / f"load-after-warm-{builder}.log").read_text())


def in_terminal(*args: str, log: Path, timeout: float = 1800) -> tuple[int, str]:
    """Run a command with a pseudo-terminal on stdout/stderr; (exit code, what it drew)."""
    leader, follower = pty.openpty()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="120", LINES="40")
    proc = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, cwd=REPO, env=env
    )
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([leader], [], [], timeout)
        if not ready:
            proc.kill()
            raise AssertionError(f"{' '.join(args)}: no output for {timeout} s")
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the terminal closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    code = proc.wait()
    text = b"".join(chunks).decode("utf-8", "replace")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(text)
    return code, text


def test_live_progress_in_a_terminal(baked: dict[str, object], tmp_path: Path) -> None:
    """--progress auto in a terminal: the live table from buildx's rawjson stream."""
    with timed("runtime (bookworm, amd64) with the live display, --force"):
        code, text = in_terminal(
            OH,
            "runtime",
            "debian:bookworm",
            "--platform",
            "linux/amd64",
            "--force",
            "-c",
            str(SAMPLE_CONFIG),
            "--output",
            str(tmp_path / "build"),
            log=LOGS / "live-progress.log",
        )
    assert code == 0, text[-2000:]
    assert "\x1b[1A" in text, "the display never redrew itself"
    assert "#1 [internal]" not in text, "buildx's plain log leaked into the live view"
    frames = [line for line in text.split("\r") if "runtime-debian-bookworm" in line]
    states = {
        s for s in ("building", "cached", "exporting", "pushing") if any(s in f for f in frames)
    }
    assert states, f"no live state rows: {frames[:5]}"
    assert "summary" in text and "built" in text


@pytest.mark.parametrize("builder", BUILDERS)
def test_ctrl_c_pushes_no_tag(
    baked: dict[str, object], tmp_path: Path, app_dir: Path, builder: str
) -> None:
    """Ctrl-C during a build: exit 130, the unfinished image gets no tag, the existing
    deps image is not overwritten, and buildx is gone (on a daemon builder too, whose
    build runs in another process than buildx)."""
    (app_dir / "action_server" / "nonce.py").write_text(f"NONCE = {uuid.uuid4().hex!r}\n")
    cfg = tmp_path / "builder.toml"
    # deps from debian:bookworm: the --no-cache build shares no cache key with the
    # default config's deps, so it cannot replace the results later tests build on.
    cfg.write_text(
        BASE_CONFIG.replace(
            'platforms = ["linux/amd64", "linux/arm64"]', 'platforms = ["linux/amd64"]', 1
        ).replace('base = "debian:trixie"', 'base = "debian:bookworm"', 1)
        + '[[bases]]\nimage = "debian:bookworm"\n'
    )
    lock_config(cfg)
    tags = json.loads(sh(OH, "tags", "--json", "-c", str(cfg)).stdout)
    runtime_ref = tags["runtime"]["debian:bookworm"]
    deps_before = registry.get(tags["deps"]) if registry.exists(tags["deps"]) else None
    assert not registry.exists(runtime_ref)
    build = tmp_path / "build"
    log = LOGS / f"bake-interrupted-{builder}.log"
    with log.open("w") as f:
        proc = subprocess.Popen(
            [
                OH,
                "bake",
                "--push",
                "--no-cache",
                "--no-cache-export",
                "--progress",
                "plain",
                "--builder",
                builder,
                "-c",
                str(cfg),
                "--output",
                str(build),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO,
            start_new_session=True,
        )
        assert proc.stdout is not None
        try:
            # oh-builder's output reaches the pipe in blocks, so a step's line may arrive
            # only after the step: interrupt at a fixed time instead, well inside a
            # --no-cache deps build (over a minute here).
            f.write(proc.stdout.readline())
            # The bake writes its context before it starts buildx: wait for it (seconds
            # alone, longer on a machine busy with the rest of the suite).
            deadline = time.monotonic() + 120
            while not (build / ".oh-builder").exists() and proc.poll() is None:
                assert time.monotonic() < deadline, "the bake wrote no build directory"
                time.sleep(0.5)
            assert proc.poll() is None, "the bake ended before it was interrupted"
            time.sleep(5)
            # The output directory is the running bake's context: another oh-builder on
            # it refuses at once and changes nothing.
            marker = (build / ".oh-builder").stat().st_ino
            other = sh(OH, "plan", "-c", str(cfg), "--output", str(build), check=False)
            assert other.returncode == 6, other.stdout + other.stderr
            assert f"{build}: in use by another oh-builder (pid {proc.pid})" in other.stderr
            assert (build / ".oh-builder").stat().st_ino == marker, "the context was replaced"
            time.sleep(10)
            with timed(f"Ctrl-C during a --no-cache bake on {builder}: exit after SIGINT"):
                os.killpg(proc.pid, signal.SIGINT)
                rest, _ = proc.communicate(timeout=120)
            f.write(rest)
        finally:
            # A failed check must not leave the bake running (it would push its images
            # and change what later tests see).
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
    assert proc.returncode == 130, log.read_text()[-2000:]
    assert "interrupted" in rest and "Traceback" not in rest
    assert not registry.exists(runtime_ref), f"{runtime_ref} was pushed by an interrupted bake"
    if deps_before is not None:
        assert registry.get(tags["deps"]) == deps_before, "the deps image was overwritten"
    left = subprocess.run(["pgrep", "-f", str(build)], capture_output=True, text=True)
    assert not left.stdout.strip(), f"processes left behind: {left.stdout}"


def test_existing_means_every_platform(baked: dict[str, object]) -> None:
    """A tag pushed for fewer platforms does not let a multi-platform bake skip it."""
    from builder import engine

    deps = str(baked["deps"])
    assert engine.image_exists(deps, ("linux/amd64", "linux/arm64"))
    assert engine.image_exists(deps, ("linux/amd64",))
    assert not engine.image_exists(deps, ("linux/amd64", "linux/riscv64"))
    assert not engine.image_exists(deps + "-nope", ("linux/amd64",))
