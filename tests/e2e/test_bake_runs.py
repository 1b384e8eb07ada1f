"""How bakes behave day to day: reruns, a bad base, the registry cache, cache warming."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import BASE_CONFIG
from tests.e2e.conftest import BIN, LOGS, sh

OH = str(BIN / "oh-builder")


def oh(*args: str, out: Path, log: str) -> None:
    """`oh-builder ARGS` on the repo's default config, building in ``out``; log in LOGS."""
    sh(OH, *args, "-c", "builder.toml", "--output", str(out / "build"), log=LOGS / log)


def metadata(path: Path) -> dict[str, dict[str, object]]:
    return {d["target"]: d for d in json.loads(path.read_text())}


def test_second_bake_pushes_nothing(baked: dict[str, object], tmp_path: Path) -> None:
    meta = tmp_path / "meta.json"
    start = time.monotonic()
    sh(
        OH,
        "bake",
        "--push",
        "--progress",
        "quiet",
        "-c",
        "builder.toml",
        "--output",
        str(tmp_path / "build"),
        "--metadata-file",
        str(meta),
        log=LOGS / "bake-again.log",
    )
    elapsed = time.monotonic() - start
    statuses = {t: d["status"] for t, d in metadata(meta).items()}
    assert set(statuses.values()) == {"exists"}, statuses
    print(f"second bake: {elapsed:.1f} s, {len(statuses)} targets already pushed")


def test_bad_base_does_not_stop_the_others(
    baked: dict[str, object], tmp_path: Path, app_dir: Path
) -> None:
    cfg = tmp_path / "builder.toml"
    cfg.write_text(
        BASE_CONFIG.replace(
            'platforms = ["linux/amd64", "linux/arm64"]', 'platforms = ["linux/amd64"]', 1
        )
        + '[[bases]]\nimage = "debian:bookworm"\n'
        + '[[bases]]\nimage = "127.0.0.1:5000/oh-test/does-not-exist:nope"\nname = "missing"\n'
    )
    (app_dir / "action_server" / "__main__.py").write_text("")
    meta = tmp_path / "meta.json"
    r = sh(
        OH,
        "bake",
        "--push",
        "--progress",
        "plain",
        "-c",
        str(cfg),
        "--output",
        str(tmp_path / "build"),
        "--metadata-file",
        str(meta),
        "--no-cache-export",
        log=LOGS / "bake-bad-base.log",
        check=False,
    )
    assert r.returncode == 4
    status = {t: d["status"] for t, d in metadata(meta).items()}
    assert status["runtime-missing"] == "failed"
    assert status["runtime-debian-bookworm"] in ("built", "exists")
    assert metadata(meta)["runtime-missing"]["log_tail"]


@pytest.fixture(scope="module")
def pruned(baked: dict[str, object]) -> None:
    """The local builder cache wiped: only the registry cache remains."""
    sh("docker", "buildx", "prune", "-af", log=LOGS / "prune.log")


def test_registry_cache_after_prune(pruned: None, tmp_path: Path) -> None:
    """After `docker buildx prune -af`, a forced rebuild of deps is all CACHED."""
    start = time.monotonic()
    oh(
        "deps",
        "--platform",
        "linux/amd64",
        "--no-push",
        "--force",
        "--progress",
        "plain",
        out=tmp_path,
        log="deps-after-prune.log",
    )
    log = (LOGS / "deps-after-prune.log").read_text()
    print(f"deps rebuild from registry cache: {time.monotonic() - start:.0f} s")
    assert_all_cached(log)


def assert_all_cached(log: str) -> None:
    """Every RUN/COPY step of the deps build reports CACHED."""
    import re

    steps = dict(
        re.findall(
            r"^#(\d+) \[[^\]]*(?:system|poetry|bundle|finish|deps)[^\]]*\] "
            r"(RUN|COPY)",
            log,
            re.M,
        )
    )
    cached = set(re.findall(r"^#(\d+) CACHED$", log, re.M))
    assert steps, "no deps steps in the log"
    missing = sorted(set(steps) - cached, key=int)
    assert not missing, f"steps not CACHED: {missing}"


def test_warm_then_local_load_is_cached(pruned: None, tmp_path: Path) -> None:
    sh("docker", "buildx", "prune", "-af", log=LOGS / "prune-2.log")
    start = time.monotonic()
    oh(
        "warm",
        "--base",
        "debian:bookworm",
        "--platform",
        "linux/amd64",
        out=tmp_path,
        log="warm.log",
    )
    print(f"warm: {time.monotonic() - start:.0f} s")
    oh(
        "runtime",
        "debian:bookworm",
        "--platform",
        "linux/amd64",
        "--load",
        "--force",
        "--progress",
        "plain",
        out=tmp_path,
        log="load-after-warm.log",
    )
    assert_all_cached((LOGS / "load-after-warm.log").read_text())
