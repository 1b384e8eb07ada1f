"""`oh-builder merge`: which per-platform images go under which multi-platform tag, and
the metadata sets it refuses (pure planning, and the command's dry run)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from builder.cli import app
from builder.config import Config, load_config
from builder.errors import ConfigError
from builder.merge import Merge, plan_merge, read_metadata
from builder.plan import Fingerprint, Plan, Selection, make_plan

FP = Fingerprint(deps_hash="0123456789abcdef", source_hash="fedcba9876543210", runtime_hash="r")
OTHER = Fingerprint(deps_hash="aaaaaaaaaaaaaaaa", source_hash="fedcba9876543210", runtime_hash="r")
BASES = (
    '[[bases]]\nimage = "debian:bookworm"\n'
    '[[bases]]\nimage = "busybox:1"\nname = "bb"\nplatforms = ["linux/amd64"]\n'
)
AMD, ARM = "linux/amd64", "linux/arm64"


def digest(name: str, platform: str) -> str:
    return "sha256:" + (f"{name}-{platform}".encode().hex() * 8)[:64]


def run_metadata(plan: Plan, status: str = "built") -> list[dict[str, Any]]:
    """What `bake --platform P --metadata-file F` writes for ``plan`` (fields merge reads)."""
    targets = [(d.name, d.ref, d.platforms) for d in plan.deps]
    targets += [(r.name, r.ref, r.platforms) for r in plan.runtime]
    return [
        {
            "target": n,
            "ref": ref,
            "platforms": list(ps),
            "status": status,
            "digest": digest(n, ps[0]) if status == "built" else "",
        }
        for n, ref, ps in targets
    ]


def planner(cfg: Config, fp: Fingerprint = FP) -> Callable[[tuple[str, ...]], Plan]:
    return lambda platforms: make_plan(cfg, Selection(platforms=platforms), fp)


def merged(cfg: Config, metas: Sequence[tuple[str, list[dict[str, Any]]]]) -> dict[str, Merge]:
    read = [(Path(name), m) for name, m in metas]
    return {m.target: m for m in plan_merge(planner(cfg), read, Path("builder.toml"))}


@pytest.fixture
def cfg(write_config: Callable[[str], Path]) -> Config:
    return load_config(write_config(BASES))


def test_each_target_gets_its_multi_platform_tag_by_digest(cfg: Config) -> None:
    plan_for = planner(cfg)
    full = plan_for(())
    got = merged(
        cfg,
        [
            ("amd64.json", run_metadata(plan_for((AMD,)))),
            ("arm64.json", run_metadata(plan_for((ARM,)))),
        ],
    )
    # A per-platform run names its deps target "deps" (the full plan's deps-amd64, for
    # the amd64-only base, is the amd64 run's deps image already).
    assert list(got) == ["deps", "runtime-debian-bookworm", "runtime-bb"]
    deps = got["deps"]
    assert deps.ref == full.deps_ref and deps.needed
    assert deps.platforms == (AMD, ARM)
    assert [p.by_digest() for p in deps.parts] == [
        f"127.0.0.1:5000/openhands/runtime-deps@{digest('deps', AMD)}",
        f"127.0.0.1:5000/openhands/runtime-deps@{digest('deps', ARM)}",
    ]
    bookworm = got["runtime-debian-bookworm"]
    assert bookworm.ref == {r.name: r.ref for r in full.runtime}["runtime-debian-bookworm"]
    assert [p.ref.endswith(f"-{p.platform.split('/')[1]}") for p in bookworm.parts] == [True] * 2
    # A base of one platform: the amd64 run pushed its tag already.
    assert not got["runtime-bb"].needed


def test_a_missing_platform_is_refused_naming_the_target(cfg: Config) -> None:
    amd = run_metadata(planner(cfg)((AMD,)))
    arm = [
        e for e in run_metadata(planner(cfg)((ARM,))) if e["target"] != "runtime-debian-bookworm"
    ]
    with pytest.raises(ConfigError) as err:
        merged(cfg, [("amd64.json", amd), ("arm64.json", arm)])
    assert str(err.value).startswith("runtime-debian-bookworm: no metadata for linux/arm64")
    assert "--platform linux/arm64" in str(err.value)
    with pytest.raises(
        ConfigError, match=r"^deps: no metadata for linux/arm64 \(given: amd64.json\)"
    ):
        merged(cfg, [("amd64.json", amd)])


def test_mixed_deps_images_are_refused(cfg: Config) -> None:
    amd = run_metadata(planner(cfg)((AMD,)))
    arm = run_metadata(planner(cfg, OTHER)((ARM,)))  # another lock: another deps image
    with pytest.raises(ConfigError) as err:
        merged(cfg, [("amd64.json", amd), ("arm64.json", arm)])
    msg = str(err.value)
    assert msg.startswith(
        "arm64.json: deps (linux/arm64) is 127.0.0.1:5000/openhands/runtime-deps:aaaa"
    )
    assert "another deps image" in msg and "\n" not in msg


def test_runs_it_cannot_merge_are_refused(cfg: Config) -> None:
    full = run_metadata(planner(cfg)(()))
    with pytest.raises(ConfigError, match="baked for linux/amd64, linux/arm64 platforms at once"):
        merged(cfg, [("all.json", full)])
    failed = run_metadata(planner(cfg)((AMD,)), status="failed")
    with pytest.raises(
        ConfigError, match=r"^amd64.json: deps \(linux/amd64\) is failed, not pushed"
    ):
        merged(cfg, [("amd64.json", failed)])
    other = [{**e, "target": "runtime-gone"} for e in run_metadata(planner(cfg)((AMD,)))[:1]]
    with pytest.raises(ConfigError, match=r"runtime-gone is not a target of builder\.toml"):
        merged(cfg, [("amd64.json", other)])
    with pytest.raises(ConfigError, match="no targets to merge"):
        merged(cfg, [("empty.json", [])])


def test_a_platform_twice_with_two_digests_is_refused(cfg: Config) -> None:
    amd = run_metadata(planner(cfg)((AMD,)))
    again = [{**e, "digest": digest("again", AMD)} for e in amd]
    with pytest.raises(ConfigError, match="one platform of a target twice"):
        merged(cfg, [("a.json", amd), ("b.json", again)])
    # The same push reported by two shards (deps in each) is one part.
    arm = run_metadata(planner(cfg)((ARM,)))
    assert len(merged(cfg, [("a.json", amd), ("b.json", amd), ("c.json", arm)])["deps"].parts) == 2


def test_a_pushed_part_found_existing_is_named_by_its_tag(cfg: Config) -> None:
    amd = run_metadata(planner(cfg)((AMD,)), status="exists")
    arm = run_metadata(planner(cfg)((ARM,)))
    deps = merged(cfg, [("a.json", amd), ("b.json", arm)])["deps"]
    assert deps.parts[0].by_digest() == deps.parts[0].ref
    assert deps.parts[0].by_digest(digest("x", AMD)).endswith(f"runtime-deps@{digest('x', AMD)}")


def test_read_metadata_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "m.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match=rf"^{bad}: not a metadata file of oh-builder"):
        read_metadata(bad)
    bad.write_text('{"deps": {}}')  # buildx's own metadata file, not oh-builder's
    with pytest.raises(ConfigError, match="bake --metadata-file"):
        read_metadata(bad)
    with pytest.raises(ConfigError, match="cannot read the metadata file"):
        read_metadata(tmp_path / "missing.json")


def test_merge_dry_run_prints_every_tag_and_pushes_nothing(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    from builder.prepare import prepare

    path = write_config(BASES)
    config = load_config(path)
    files = []
    for p in (AMD, ARM):
        plan = prepare(config, Selection(platforms=(p,))).plan
        f = tmp_path / f"{p.split('/')[1]}.json"
        f.write_text(json.dumps(run_metadata(plan)))
        files.append(str(f))
    runner = CliRunner()
    result = runner.invoke(app, ["merge", "--dry-run", "-c", str(path), *files])
    assert result.exit_code == 0, result.output
    full = prepare(config, Selection()).plan
    lines = result.output.splitlines()
    assert lines[0] == (
        f"deps: {full.deps_ref} (linux/amd64, linux/arm64) <- "
        f"127.0.0.1:5000/openhands/runtime-deps@{digest('deps', AMD)} "
        f"127.0.0.1:5000/openhands/runtime-deps@{digest('deps', ARM)}"
    )
    assert any(
        line.startswith("runtime-bb: ") and "as pushed, one platform" in line for line in lines
    )
    result = runner.invoke(app, ["merge", "--dry-run", "-c", str(path), files[0]])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "deps: no metadata for linux/arm64" in result.output
