"""Builder facts and the checks made before any build (pure; no engine)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from builder.builders import (
    BuilderInfo,
    check_can_build,
    fs_entitlements,
    output_overrides,
    parse_version,
)
from builder.engine import bake_args
from builder.errors import EngineError

DAEMON = BuilderInfo(
    name="oh-buildkitd",
    driver="remote",
    endpoint="unix:///run/oh-builder/buildkitd.sock",
    status="running",
    buildkit="v0.25.2+debian",
    platforms=("linux/amd64", "linux/amd64/v2", "linux/arm64", "linux/386"),
    containerd_store=False,
)
DOCKER = replace(DAEMON, name="default", driver="docker", endpoint="default", containerd_store=True)
BOTH = ("linux/amd64", "linux/arm64")


def test_what_follows_from_the_driver() -> None:
    assert DAEMON.daemon and DAEMON.rewrite_timestamp and not DAEMON.local_store
    assert DOCKER.local_store and not DOCKER.rewrite_timestamp and DOCKER.multi_platform
    plain = replace(DOCKER, containerd_store=False)
    assert not plain.multi_platform and not plain.cache_export
    facts = {name: (ok, detail) for name, ok, detail in DAEMON.facts()}
    assert facts["builder oh-buildkitd"][0]
    assert "BuildKit v0.25.2+debian" in facts["builder oh-buildkitd"][1]
    assert "registry only" in facts["builder oh-buildkitd: local image store"][1]
    assert facts["builder oh-buildkitd: reproducible timestamps"][1].startswith("available")


def test_a_builder_that_cannot_build_the_plan_is_refused_in_one_line() -> None:
    check_can_build(DAEMON, BOTH, cache_export=True)
    check_can_build(DOCKER, BOTH, cache_export=True)
    amd64_only = replace(DAEMON, platforms=("linux/amd64", "linux/amd64/v2"))
    with pytest.raises(EngineError) as exc:
        check_can_build(amd64_only, BOTH, cache_export=False)
    message = str(exc.value)
    assert exc.value.exit_code == 3 and "\n" not in message
    assert "builder oh-buildkitd (remote) cannot build linux/arm64" in message
    assert "qemu-user-static" in message
    plain = replace(DOCKER, containerd_store=False)
    check_can_build(plain, ("linux/amd64",), cache_export=False)
    with pytest.raises(EngineError, match="cannot build several platforms at once"):
        check_can_build(plain, BOTH, cache_export=False)
    with pytest.raises(EngineError, match=r"cannot export a registry cache.*--no-cache-export"):
        check_can_build(plain, ("linux/amd64",), cache_export=True)
    # arm64 listed as linux/arm64/v8 still counts
    v8 = replace(DAEMON, platforms=("linux/amd64", "linux/arm64/v8"))
    check_can_build(v8, BOTH, cache_export=True)


def test_fs_entitlements_only_outside_the_working_directory(tmp_path: Path) -> None:
    inside = tmp_path / "build"
    ca = Path("/etc/ssl/certs/ca-certificates.crt")
    assert fs_entitlements([inside, ca, ca], cwd=tmp_path) == [f"fs.read={ca.resolve()}"]
    other = tmp_path.parent / "elsewhere"
    assert fs_entitlements([other], cwd=tmp_path) == [f"fs.read={other.resolve()}"]
    assert fs_entitlements([tmp_path], cwd=tmp_path) == []


def test_versions() -> None:
    assert parse_version("github.com/docker/buildx 0.29.1+ds1 0.29.1+ds1-4") == (0, 29, 1)
    assert parse_version("github.com/docker/buildx 0.13.1+ds1 0.13.1+ds1-3") == (0, 13, 1)
    assert parse_version("v0.19.0") == (0, 19, 0)
    assert parse_version("unknown") == (0, 0, 0)


def test_bake_arguments() -> None:
    argv = bake_args(
        Path("/b/docker-bake.hcl"),
        ["deps", "runtime-x"],
        builder="oh-buildkitd",
        push=True,
        metadata_file=Path("/tmp/m.json"),
        overrides={"*.output": "type=cacheonly"},
        allow=["fs.read=/etc/ssl/certs/ca-certificates.crt"],
    )
    assert argv == [
        "buildx", "bake", "--file", "/b/docker-bake.hcl", "--progress", "plain",
        "--builder", "oh-buildkitd", "--push", "--metadata-file", "/tmp/m.json",
        "--allow=fs.read=/etc/ssl/certs/ca-certificates.crt",
        "--set", "*.output=type=cacheonly", "deps", "runtime-x",
    ]  # fmt: skip
    assert "--builder" not in bake_args(Path("f"), ["deps"])


def test_outputs_per_builder() -> None:
    rewrite = {"*.output": "type=registry,rewrite-timestamp=true"}
    assert output_overrides(DAEMON, push=True, cache_only=False, rewrite=True) == rewrite
    assert output_overrides(DAEMON, push=True, cache_only=False) == {}
    assert output_overrides(DOCKER, push=True, cache_only=False, rewrite=True) == {}
    assert output_overrides(DAEMON, push=False, cache_only=False) == {}
    for b in (DAEMON, DOCKER):
        assert output_overrides(b, push=False, cache_only=True) == {"*.output": "type=cacheonly"}
