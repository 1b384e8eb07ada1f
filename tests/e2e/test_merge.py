"""Per-platform runs, then `oh-builder merge`: the multi-platform tags by digest."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import BASE_CONFIG
from tests.e2e import registry
from tests.e2e.conftest import BIN, DAEMON, LOGS, lock_config, sh
from tests.e2e.timings import timed

OH = str(BIN / "oh-builder")
PLATFORMS = ("linux/amd64", "linux/arm64")


def platform_manifest(ref: str, platform: str) -> dict[str, object]:
    """The manifest a per-platform run pushed: its index's entry, or the manifest itself."""
    return registry.platform_manifests(ref).get(platform) or registry.get(ref)


def test_per_platform_runs_merge_into_multi_platform_tags(
    baked: dict[str, object], tmp_path: Path, app_dir: Path
) -> None:
    """Each platform baked on its own (as a native runner would, pushing per-platform
    tags), then `merge`: every target's multi-platform tag is an index of exactly those
    images; a set missing a platform is refused with one line, exit 2."""
    cfg = tmp_path / "builder.toml"
    # Repositories of its own (the suite's other tags stay as they are), the sample
    # config's cache: deps come from the registry cache `baked` exported.
    cfg.write_text(
        BASE_CONFIG.replace('openhands/runtime"', 'openhands/merged"').replace(
            'openhands/runtime-deps"', 'openhands/merged-deps"'
        )
        + '[[bases]]\nimage = "debian:bookworm"\n'
    )
    lock_config(cfg)
    metas = []
    for p in PLATFORMS:
        arch = p.split("/")[1]
        meta = tmp_path / f"{arch}.json"
        with timed(f"per-platform bake ({arch}): deps + bookworm, pushed by platform") as f:
            sh(
                OH, "bake", "--push", "--platform", p, "--builder", DAEMON, "--no-cache-export",
                "--progress", "plain", "-c", str(cfg), "--output", str(tmp_path / arch),
                "--metadata-file", str(meta), log=LOGS / f"merge-bake-{arch}.log",
            )  # fmt: skip
            done = json.loads(meta.read_text())
            f["cached steps"] = ", ".join(
                f"{d['target']} {d['cached_steps']}/{d['total_steps']}" for d in done
            )
        assert {d["status"] for d in done} <= {"built", "exists"}, done
        metas.append(meta)
    with timed("oh-builder merge of the two platforms' metadata") as f:
        r = sh(OH, "merge", "-c", str(cfg), *map(str, metas))
        f["targets merged"] = str(r.stdout.count(" sha256:"))
    (LOGS / "merge.log").write_text(r.stdout + r.stderr)
    tags = json.loads(sh(OH, "tags", "--json", "-c", str(cfg)).stdout)
    parts = {p: json.loads(m.read_text()) for p, m in zip(PLATFORMS, metas, strict=True)}
    for target, ref in (
        ("deps", tags["deps"]),
        ("runtime-debian-bookworm", tags["runtime"]["debian:bookworm"]),
    ):
        assert f"{target}: {ref} (linux/amd64, linux/arm64) sha256:" in r.stdout, r.stdout
        merged = registry.platform_manifests(ref)
        assert set(merged) == set(PLATFORMS), (ref, list(merged))
        for p in PLATFORMS:
            (entry,) = [d for d in parts[p] if d["target"] == target]
            # The platform's manifest is the very one its run pushed.
            assert merged[p] == platform_manifest(entry["ref"], p), (ref, p)
    run = ["docker", "run", "--rm", "--pull", "always", "--entrypoint", "/openhands/bin/oh-python"]
    probe = [tags["runtime"]["debian:bookworm"], "-c", "import platform; print(platform.machine())"]
    machine = {p: sh(*run, "--platform", p, *probe).stdout.strip() for p in PLATFORMS}
    assert machine == {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}
    bad = sh(OH, "merge", "-c", str(cfg), str(metas[0]), check=False)
    said = [line for line in bad.stderr.splitlines() if line.strip()]
    assert bad.returncode == 2 and len(said) == 1, (bad.returncode, said)
    assert "deps: no metadata for linux/arm64" in said[0], said
