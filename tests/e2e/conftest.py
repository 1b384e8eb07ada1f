"""End-to-end fixtures: a real engine, registry and bases, and one real bake.

Nothing here skips: when the engine cannot be brought up the suite fails and says why.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from builder.engine import RUNC_RETRIES, runc_init_flake
from tests.e2e.timings import TIMINGS, timed
from tests.sample import SAMPLE_CONFIG

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("OH_BUILDER_BIN", REPO / ".venv" / "bin"))
LOGS = Path(os.environ.get("OH_E2E_LOGS", "/var/log/oh-builder/e2e"))
# The builders: the profiles' images are baked on a BuildKit daemon (what CI builds on;
# `make engine` starts it); the docker driver (dockerd's own BuildKit, buildx's default
# here) keeps the cases a laptop user meets.
DAEMON = os.environ.get("OH_E2E_BUILDER", "oh-buildkitd")
DOCKER_DRIVER = "default"
BUILDERS = (DAEMON, DOCKER_DRIVER)
# Debian stable's buildx 0.13.1, beside the current one (tests/engine/engine.sh).
OLD_BUILDX = {
    "DOCKER_CONFIG": os.environ.get("OH_OLD_BUILDX_CONFIG", "/var/cache/oh-builder/buildx-0.13")
}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TIMINGS:
        return
    terminalreporter.section("e2e timings")
    for label, figure in TIMINGS.items():
        terminalreporter.write_line(f"{figure}  {label}")
    with contextlib.suppress(OSError):
        LOGS.mkdir(parents=True, exist_ok=True)
        (LOGS / "timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def sh(
    *args: str,
    log: Path | None = None,
    timeout: float = 3600,
    check: bool = True,
    cwd: Path = REPO,
    env: dict[str, str] | None = None,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env} if env else None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as f:
            r = subprocess.run(
                args,
                stdout=f,
                stderr=subprocess.STDOUT,
                text=True,
                cwd=cwd,
                timeout=timeout,
                check=False,
                env=full_env,
            )
        if check and r.returncode != 0:
            tail = "".join(log.read_text().splitlines(keepends=True)[-25:])
            pytest.fail(f"{' '.join(args)} failed ({r.returncode}); log: {log}\n{tail}")
        return r

    def once() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args,
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=timeout,
            check=False,
            env=full_env,
            input=input_text,
        )

    r = once()
    for _ in range(RUNC_RETRIES):
        if not (args[:2] == ("docker", "run") and runc_init_flake(r.returncode, r.stderr)):
            break
        print(f"runc init failed to start a container (engine flake), again: {r.stderr.strip()}")
        time.sleep(2)
        r = once()
    if check and r.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def lock_config(config: Path, *, missing: Sequence[str] = ()) -> Path:
    """`oh-builder lock` for a config a test wrote (its bases resolved in the registry);
    ``missing``: references of the config that are in no registry, locked at a made-up
    digest (a base deleted after it was locked)."""
    from builder.lockfile import LockEntry, lock_path, read_lock, render_lock, write_lock

    text = config.read_text()
    if missing:  # lock the others first
        kept = [b for b in text.split("[[bases]]") if not any(m in b for m in missing)]
        config.write_text("[[bases]]".join(kept))
    sh(str(BIN / "oh-builder"), "lock", "-q", "-c", str(config))
    config.write_text(text)
    if missing:
        gone = "sha256:" + "0" * 64
        path = lock_path(config)
        entries = dict(read_lock(path).entries)
        entries.update(
            {m: LockEntry(digest=gone, platforms={"linux/amd64": gone}) for m in missing}
        )
        write_lock(path, render_lock(config.name, entries))
    return lock_path(config)


# The `docker` driver of Docker 26.1 unpacks every image it pushes into the local store
# (docs/design.md): a suite run leaves ~20 GB of local copies of what the registry holds.
OURS = ("127.0.0.1:5000/openhands/",)
FREE_GB = 30  # what one suite run needs on the engine's disk, measured with headroom
# Build cache each builder keeps when the disk is short: what one run reuses (the
# profiles' deps and the sample's layers), the rest is rebuilt or imported from the
# registry cache (dockerd's BuildKit 0.13 knows only the older keep-storage).
BUILD_CACHE_KEPT = {
    DAEMON: ("--max-used-space", "20gb"),
    DOCKER_DRIVER: ("--keep-storage", "5gb"),
}


def drop_local_copies() -> None:
    """Remove local copies of the project's pushed images (the registry keeps them)."""
    names = sh("docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    ours = [n for n in names if n.startswith(OURS)]
    if ours:
        sh("docker", "image", "rm", "-f", *ours)
    sh("docker", "image", "prune", "-f")


@pytest.fixture(scope="session")
def engine() -> None:
    """Engine, registry, binfmt and seeded bases (idempotent scripts; fail, never skip)."""
    sh("bash", "tests/engine/engine.sh", log=LOGS / "engine.log")
    sh("bash", "tests/engine/bases.sh", log=LOGS / "bases.log")
    os.environ.setdefault("OH_BUILDER", str(BIN / "oh-builder"))
    sh("bash", "tests/engine/locks.sh", log=LOGS / "locks.log")
    drop_local_copies()
    root = sh("docker", "info", "--format", "{{.DockerRootDir}}").stdout.strip()
    free = shutil.disk_usage(root).free / 1e9
    if free < FREE_GB:  # earlier runs' images and caches fill the registry's disk
        sh(str(BIN / "python"), "tests/engine/registry_gc.py", log=LOGS / "registry-gc.log")
        free = shutil.disk_usage(root).free / 1e9
    if free < FREE_GB:  # then the builders' caches, least recently used first
        for builder, keep in BUILD_CACHE_KEPT.items():
            sh("docker", "buildx", "prune", "--builder", builder, "-f", *keep,
               log=LOGS / f"prune-{builder}.log")  # fmt: skip
        free = shutil.disk_usage(root).free / 1e9
    if free < FREE_GB:
        pytest.fail(
            f"{root}: {free:.0f} GB free, the e2e suite needs {FREE_GB} GB; free space "
            "(docker buildx prune, docker image prune -a) and run it again"
        )


@pytest.fixture(scope="session")
def baked(engine: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """One real `oh-builder bake --push --force` of the repo's default config; its tags.

    --force: base images may change under the same tag (the test bases are reseeded when
    their recipe changes); rebuilding proves this tree builds, and is cached anyway.
    """
    out = tmp_path_factory.mktemp("bake") / "build"
    label = f"full bake on {DAEMON}: 6 bases x linux/amd64+arm64, --push --force, cache export"
    with timed(label) as f:
        meta = out.parent / "meta.json"
        sh(
            str(BIN / "oh-builder"),
            "bake",
            "--push",
            "--force",
            "--builder",
            DAEMON,
            "--progress",
            "plain",
            "--config",
            str(SAMPLE_CONFIG),
            "--output",
            str(out),
            "--metadata-file",
            str(meta),
            log=LOGS / "bake.log",
        )
        done = json.loads(meta.read_text())
        f["targets"] = str(len(done))
        cached = sum(int(d["cached_steps"]) for d in done)
        f["cached steps"] = f"{cached}/{sum(int(d['total_steps']) for d in done)}"
    log = (LOGS / "bake.log").read_text()
    assert "exporting cache to registry" in log, "the bake exported no registry cache"
    assert {d["status"] for d in done} == {"built"}, done
    assert {d["builder"] for d in done} == {DAEMON}, done
    tags = json.loads(
        sh(str(BIN / "oh-builder"), "tags", "--json", "-c", str(SAMPLE_CONFIG)).stdout
    )
    assert isinstance(tags, dict)
    return tags


@pytest.fixture
def container() -> Iterator[list[str]]:
    """Names of containers started by a test; removed afterwards whatever happens, and
    with them the local copy of an OpenHands profile image they ran (pushed, pulled
    again when needed): each base's copy is unpacked on its own, 1-4 GB, and the disk
    of this machine holds only so many."""
    names: list[str] = []
    yield names
    images = set()
    for n in names:
        r = subprocess.run(
            ["docker", "inspect", "-f", "{{.Config.Image}}", n],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        images.add(r.stdout.strip())
        subprocess.run(["docker", "rm", "-f", n], capture_output=True, check=False)
    heavy = ("127.0.0.1:5000/openhands/openhands-v0:", "127.0.0.1:5000/openhands/agent-server:")
    for image in sorted(i for i in images if i.startswith(heavy)):
        subprocess.run(["docker", "rmi", image], capture_output=True, check=False)


# What production sandboxes do to a container, all at once: a read-only root filesystem
# (tmpfs /tmp, the workspace a host directory), every capability dropped and no new
# privileges, an arbitrary uid with no passwd entry that owns the workspace, no network
# (the client shares the server's loopback), and a low open-files limit.
SANDBOX_UID = 4242
RESTRICTIONS = (
    "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
    "--security-opt", "no-new-privileges", "--user", f"{SANDBOX_UID}:{SANDBOX_UID}",
    "--network", "none", "--ulimit", "nofile=256:256",
)  # fmt: skip
# The same as root: every capability dropped, no new privileges (root with no CAP_SETUID
# cannot switch users, nor write what another uid owns: the workspace is a tmpfs).
ROOT_RESTRICTIONS = (
    "--read-only", "--tmpfs", "/tmp", "--tmpfs", "/workspace", "--cap-drop", "ALL",
    "--security-opt", "no-new-privileges", "--network", "none", "--ulimit", "nofile=256:256",
)  # fmt: skip

# The profiles' bases (builder.toml, profiles/*.toml): bake target name -> base image.
PROFILE_BASES = {
    "debian-bookworm": "debian:bookworm",
    "debian-trixie": "debian:trixie",
    "busybox": "127.0.0.1:5000/oh-test/busybox:static",
    "musl": "127.0.0.1:5000/oh-test/musl:latest",
    "noshell": "127.0.0.1:5000/oh-test/noshell:latest",
    "uid1000": "127.0.0.1:5000/oh-test/uid1000:bookworm",
}


def bake_profile(
    config: Path, label: str, log: str, out: Path, platforms: Sequence[str] = ()
) -> dict[str, str]:
    """One real `oh-builder bake --push` of CONFIG on the daemon builder, timed as LABEL,
    for PLATFORMS (default: the config's); base image -> runtime tag. Tags are content
    hashes: an image already pushed from the same inputs is reused (status exists, and
    the tests pull it), as `make bake` would."""
    meta = out.parent / "meta.json"
    narrow = [a for p in platforms for a in ("--platform", p)]
    # The docker driver unpacks every image it pushes (one copy per base, 1-4 GB each):
    # drop the earlier profiles' copies first, or the disk fills up (it did, mid-bake).
    drop_local_copies()
    with timed(label) as f:
        sh(
            str(BIN / "oh-builder"), "bake", "--push", "--progress", "plain",
            "--builder", DAEMON, *narrow,
            "-c", str(config), "--output", str(out), "--metadata-file", str(meta),
            log=LOGS / log,
        )  # fmt: skip
        done = json.loads(meta.read_text())
        f["targets"] = str(len(done))
        f["built"] = str(sum(d["status"] == "built" for d in done))
    assert {d["status"] for d in done} <= {"built", "exists"}, done
    tags = json.loads(
        sh(str(BIN / "oh-builder"), "tags", "--json", *narrow, "-c", str(config)).stdout
    )
    return dict(tags["runtime"])
