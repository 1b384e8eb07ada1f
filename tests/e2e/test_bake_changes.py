"""Each kind of change uploads its own layer and nothing else (judged by the blobs the
registry received, not by digests: an equivalent cached result may carry another digest
that the registry already has).

This file sorts before test_bake_runs.py on purpose: it compares against the baked
images with the build cache that bake left, before test_bake_runs prunes it (after the
prune, deps steps of the default config were seen to run again).

Runtime image layers, last first: WORKDIR, app, venv, system, setup (per base). The deps
image holds its own copies of the system and venv layers (under /oh-layers, other blobs).
"""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.buildlog import from_cache
from tests.e2e.conftest import BIN, DAEMON, LOGS, REPO, lock_config, sh
from tests.e2e.timings import timed
from tests.sample import sample_head

OH = str(BIN / "oh-builder")
CACHE = "127.0.0.1:5000/openhands/runtime-cache"
SETUP, SYSTEM, VENV, APP = -5, -4, -3, -2  # runtime layer positions (-1: WORKDIR)


def change_app(work: Path, cfg: Path) -> None:
    server = work / "app" / "action_server" / "server.py"
    server.write_text(server.read_text() + f"\n# e2e: source change {uuid.uuid4().hex}\n")


def change_lock(work: Path, cfg: Path) -> None:
    from tests.bench.compare import LOCK_BUMP, bump_locked, fetch_wheel

    lock = work / "app" / "poetry.lock"
    lock.write_text(bump_locked(lock.read_text(), *LOCK_BUMP, fetch_wheel(*LOCK_BUMP, work)))


def change_tools(work: Path, cfg: Path) -> None:
    text = cfg.read_text().replace("browser = true", 'browser = true\ntools = ["tmux", "git"]')
    cfg.write_text(text)


def assert_deps_cached(log: str, stages: tuple[str, ...]) -> None:
    """Every RUN/COPY step of these deps stages came from a cache (buildlog.from_cache)."""
    pattern = "|".join(re.escape(s) for s in stages)
    steps = dict(re.findall(rf"^#(\d+) \[[^\]]*\b(?:{pattern}) \d+/\d+\] (RUN|COPY)", log, re.M))
    assert steps, f"no {stages} steps in the log"
    missing = sorted(set(steps) - from_cache(log), key=int)
    assert not missing, f"steps not CACHED: {missing}"


def metadata_blobs(ref: str) -> set[str]:
    """Config and attestation blobs of an image index."""
    from tests.bench.compare import image_metadata

    configs, attestations = image_metadata([ref])
    return configs | attestations


CASES = {
    # name: (change, runtime layers that may be sent, deps stages that must stay cached)
    "app-source": (change_app, (APP,), ("system", "venv", "wheels", "check")),
    "lock-file": (change_lock, (VENV,), ("system", "python-debs")),
    "tool-list": (change_tools, (SYSTEM,), ("venv", "wheels", "python-debs")),
}


# On the BuildKit daemon the baked images came from (rewrite-timestamp, its own cache):
# every case is blocking. (On the docker driver the lock-file and tool-list cases were
# seen to re-run cached deps steps: sessions 4-6.)
@pytest.mark.parametrize("case", list(CASES))
def test_a_change_uploads_only_its_layer(
    baked: dict[str, object], tmp_path: Path, case: str
) -> None:
    from tests.bench import measure

    change, sendable, cached_stages = CASES[case]
    shutil.copytree(
        REPO / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    head = sample_head(tmp_path / "app")
    cfg = tmp_path / "builder.toml"
    cfg.write_text(
        head.replace('platforms = ["linux/amd64", "linux/arm64"]', 'platforms = ["linux/amd64"]', 1)
        + '[[bases]]\nimage = "debian:bookworm"\n'
    )
    lock_config(cfg)
    change(tmp_path, cfg)
    tags = json.loads(sh(OH, "tags", "--json", "-c", str(cfg)).stdout)
    new_ref, deps_ref = tags["runtime"]["debian:bookworm"], tags["deps"]
    old_ref = str(dict(baked["runtime"])["debian:bookworm"])  # type: ignore[call-overload]
    assert new_ref != old_ref
    # --no-cache-export: these one-off changes must not replace the registry cache of the
    # default config's targets (one cache tag per target and branch), which the next
    # case imports. A lock or tool change gives a new deps tag that an earlier run may
    # have pushed already: --force rebuilds it from the cache. The baked deps tag
    # (multi-platform) is never forced from this amd64-only config.
    force = ["--force"] if deps_ref != baked["deps"] else []
    offset = measure.log_offset()
    with timed(f"{case} change: deps + one runtime image (amd64), pushed") as fig:
        sh(
            OH, "bake", "--push", *force, "--no-cache-export", "--progress", "plain",
            "--builder", DAEMON, "-c", str(cfg),
            "--output", str(tmp_path / "build"), log=LOGS / f"bake-{case}.log",
        )  # fmt: skip
        time.sleep(0.5)
        image_bytes, _, _, _, uploaded = measure.pushes_since(offset, CACHE)
        fig["image bytes uploaded"] = f"{image_bytes / 1e6:.1f} MB"
    assert_deps_cached((LOGS / f"bake-{case}.log").read_text(), cached_stages)
    layers, old = measure.layer_digests(new_ref), measure.layer_digests(old_ref)
    assert len(layers) == len(old)
    # The changed layer differs from the baked image's (a stale cached layer would not).
    # Another layer may carry another digest than the baked image's only as an equivalent
    # cached result that the registry already holds (a COPY --link run again after a cache
    # prune writes new directory mtimes on this engine: docs/design.md); the upload check
    # below fails if such a layer had to be sent.
    changed = [i - len(layers) for i, (a, b) in enumerate(zip(layers, old, strict=True)) if a != b]
    assert set(sendable) <= set(changed), f"layers changed at {changed}, expected {sendable}"
    if case == "lock-file":
        from tests.bench.compare import LOCK_BUMP

        got = sh(
            "docker",
            "run",
            "--rm",
            "--pull",
            "always",
            "--entrypoint",
            "/openhands/bin/oh-python",
            new_ref,
            "-c",
            f"import importlib.metadata as m; print(m.version({LOCK_BUMP[0]!r}))",
        ).stdout
        assert got.strip() == LOCK_BUMP[1], f"the runtime venv has {got!r}, the lock {LOCK_BUMP}"
    # Uploaded: at most that layer (nothing when an identical build already sent it: the
    # layers are reproducible), the deps image's own copy of it, manifests and configs.
    sent = [h for h in layers if h in uploaded]
    assert set(sent) <= {layers[i] for i in sendable}, sent
    others = set(uploaded) - set(sent) - metadata_blobs(new_ref)
    if deps_ref != baked["deps"]:
        others -= metadata_blobs(deps_ref)
        # The deps image's own layers: its copy of the changed layer (the system layer
        # sits at another path there), and the layers stacked after it in that image.
        deps_layers = measure.layer_digests(deps_ref)
        first = deps_layers.index(deps_layers[-2]) if SYSTEM in sendable else len(deps_layers) - 1
        others -= set(deps_layers[first:])
    assert not others, f"uploaded more than the {case} layer: {sorted(others)}"
    if case == "app-source":
        assert measure.blob_size(layers[APP]) < 1_000_000, "the changed layer is not the app"
