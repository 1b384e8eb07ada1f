"""Each kind of change uploads its own layer and nothing else (judged by the blobs the
registry received, not by digests: an equivalent cached result may carry another digest
that the registry already has).

This file sorts before test_bake_runs.py on purpose: it compares against the baked
images with the build cache that bake left, before test_bake_runs prunes it (after the
prune, deps steps of the default config were seen to run again).

A runtime image's layers are named by the history its config records (each bundle
layer's COPY names it: setup, system, venv, browser, app). The deps image holds its own
copies of the bundle layers (under /oh-layers: other blobs).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
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


def change_app(work: Path, cfg: Path) -> None:
    server = work / "app" / "action_server" / "server.py"
    server.write_text(server.read_text() + f"\n# e2e: source change {uuid.uuid4().hex}\n")


def change_lock(work: Path, cfg: Path) -> None:
    from tests.bench.compare import LOCK_BUMP, bump_locked, fetch_wheel

    lock = work / "app" / "poetry.lock"
    lock.write_text(bump_locked(lock.read_text(), *LOCK_BUMP, fetch_wheel(*LOCK_BUMP, work)))


def change_tools(work: Path, cfg: Path) -> None:
    text = cfg.read_text().replace("[deps]\n", '[deps]\ntools = ["tmux", "git"]\n', 1)
    cfg.write_text(text)


def change_browser(work: Path, cfg: Path) -> None:
    """Another oh-builder whose browser layer differs (a Chromium flag added to
    oh-chromium): a copy of the package and its resources, run from work/oh-builder."""
    copy = work / "oh-builder"
    for d in ("builder", "wrappers", "dockerfiles", "bake"):
        shutil.copytree(REPO / d, copy / d, ignore=shutil.ignore_patterns("__pycache__"))
    wrapper = copy / "wrappers" / "browser" / "bin" / "oh-chromium"
    text = wrapper.read_text()
    assert "--disable-sync" in text
    wrapper.write_text(text.replace("--disable-sync", "--disable-sync --disable-translate"))


def assert_deps_cached(log: str, stages: tuple[str, ...]) -> None:
    """Every RUN/COPY step of these deps stages came from a cache (buildlog.from_cache)."""
    pattern = "|".join(re.escape(s) for s in stages)
    steps = dict(
        re.findall(rf"^#(\d+) \[[^\]]*(?<![\w-])(?:{pattern}) \d+/\d+\] (RUN|COPY)", log, re.M)
    )
    assert steps, f"no {stages} steps in the log"
    missing = sorted(set(steps) - from_cache(log), key=int)
    assert not missing, f"steps not CACHED: {missing}"


def metadata_blobs(ref: str) -> set[str]:
    """Config and attestation blobs of an image index."""
    from tests.bench.compare import image_metadata

    configs, attestations = image_metadata([ref])
    return configs | attestations


# Each layer has its check stage: a lock change must not run the browser's check again
# (Chromium), nor a browser change the venv's; a system change runs them all.
CHECKS = ("check-system", "check-venv", "check-browser")
CASES = {
    # name: (change, runtime layers that may be sent, deps stages that must stay cached)
    "app-source": (change_app, ("app",), ("system", "venv", "wheels", "browser", *CHECKS)),
    "lock-file": (
        change_lock,
        ("venv",),
        ("system", "python-debs", "browser", "check-system", "check-browser"),
    ),
    "tool-list": (change_tools, ("system",), ("venv", "wheels", "python-debs", "browser")),
    "browser": (
        change_browser,
        ("browser",),
        ("system", "venv", "wheels", "python-debs", "check-system", "check-venv"),
    ),
}


# On the BuildKit daemon the baked images came from (rewrite-timestamp, its own cache):
# every case is blocking. (On the docker driver the lock-file and tool-list cases were
# seen to re-run cached deps steps: sessions 4-6.)
@pytest.mark.parametrize("case", list(CASES))
def test_a_change_uploads_only_its_layer(
    baked: dict[str, object], tmp_path: Path, case: str
) -> None:
    from tests.bench import measure
    from tests.bench.compare import deps_layers, runtime_layers

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
    # The browser case runs the changed copy of oh-builder (from its directory: `python
    # -m` puts the working directory first on sys.path).
    own = tmp_path / "oh-builder"
    oh = [sys.executable, "-m", "builder"] if own.is_dir() else [OH]
    where = own if own.is_dir() else REPO
    tags = json.loads(sh(*oh, "tags", "--json", "-c", str(cfg), cwd=where).stdout)
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
            *oh, "bake", "--push", *force, "--no-cache-export", "--progress", "plain",
            "--builder", DAEMON, "-c", str(cfg),
            "--output", str(tmp_path / "build"), log=LOGS / f"bake-{case}.log", cwd=where,
        )  # fmt: skip
        time.sleep(0.5)
        image_bytes, _, _, _, uploaded = measure.pushes_since(offset, CACHE)
        fig["image bytes uploaded"] = f"{image_bytes / 1e6:.1f} MB"
    assert_deps_cached((LOGS / f"bake-{case}.log").read_text(), cached_stages)
    layers, old = runtime_layers(new_ref), runtime_layers(old_ref)
    assert layers.keys() == old.keys(), (layers, old)
    # The changed layer differs from the baked image's (a stale cached layer would not).
    # Another layer may carry another digest than the baked image's only as an equivalent
    # cached result that the registry already holds (a COPY --link run again after a cache
    # prune writes new directory mtimes on this engine: docs/design.md); the upload check
    # below fails if such a layer had to be sent.
    changed = [name for name in layers if layers[name] != old[name]]
    assert set(sendable) <= set(changed), f"layers changed: {changed}, expected {sendable}"
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
    sent = [name for name, h in layers.items() if h in uploaded]
    assert set(sent) <= set(sendable), sent
    others = set(uploaded) - {layers[n] for n in sent} - metadata_blobs(new_ref)
    if deps_ref != baked["deps"]:
        others -= metadata_blobs(deps_ref)
        # The deps image's own copy of the changed layer (it sits at another path there),
        # and the layers stacked after it in that image.
        own_layers = deps_layers(deps_ref)
        order = list(own_layers)
        first = min((order.index(n) for n in sendable if n in order), default=len(order))
        others -= {
            layer["digest"].split(":", 1)[1]
            for name, layer in own_layers.items()
            if order.index(name) >= first
        }
    assert not others, f"uploaded more than the {case} layer: {sorted(others)}"
    if case == "app-source":
        assert measure.blob_size(layers["app"]) < 1_000_000, "the changed layer is not the app"
    if case == "browser":
        got = sh(
            "docker", "run", "--rm", "--pull", "always", "--entrypoint",
            "/openhands/usr/bin/busybox", new_ref,
            "cat", "/openhands/browser/bin/oh-chromium",
        ).stdout  # fmt: skip
        assert "--disable-translate" in got, got
