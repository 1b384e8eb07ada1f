from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from builder.config import load_config
from builder.errors import ConfigError
from builder.plan import Fingerprint, Selection, make_plan, parse_shard
from tests.conftest import BASE_CONFIG

FP = Fingerprint(deps_hash="0123456789abcdef", source_hash="fedcba9876543210", runtime_hash="r")
MANY = "".join(f'[[bases]]\nimage = "swebench/task-{i}:latest"\n' for i in range(10))


def test_targets_and_deps_variants(write_config: Callable[[str], Path]) -> None:
    cfg = load_config(
        write_config(
            '[[bases]]\nimage = "debian:bookworm"\n'
            '[[bases]]\nimage = "busybox:1"\nname = "bb"\nplatforms = ["linux/amd64"]\n'
        )
    )
    plan = make_plan(cfg, Selection(), FP)
    assert [d.name for d in plan.deps] == ["deps", "deps-amd64"]
    assert plan.deps_ref == "127.0.0.1:5000/openhands/runtime-deps:0123456789abcdef"
    assert plan.deps[1].ref.endswith(":0123456789abcdef-amd64")
    by_name = {r.name: r for r in plan.runtime}
    assert by_name["runtime-debian-bookworm"].deps_target == "deps"
    assert by_name["runtime-bb"].deps_target == "deps-amd64"
    assert by_name["runtime-bb"].platforms == ("linux/amd64",)
    deps_cache = plan.deps[0].cache
    assert deps_cache.cache_to[0].endswith("mode=max")
    assert "ignore-error=true" in deps_cache.cache_to[0]


def test_cache_branch_falls_back_to_main(write_config: Callable[[str], Path]) -> None:
    cfg = load_config(write_config('[[bases]]\nimage = "debian:bookworm"\n'))
    plan = make_plan(cfg, Selection(), FP, cache_branch="feature/x")
    refs = plan.deps[0].cache.cache_from
    assert refs == (
        "type=registry,ref=127.0.0.1:5000/openhands/runtime-cache:deps--feature-x",
        "type=registry,ref=127.0.0.1:5000/openhands/runtime-cache:deps--main",
    )
    assert "deps--feature-x" in plan.deps[0].cache.cache_to[0]


def test_platform_selection_changes_tags(write_config: Callable[[str], Path]) -> None:
    cfg = load_config(write_config('[[bases]]\nimage = "debian:bookworm"\n'))
    full = make_plan(cfg, Selection(), FP)
    amd = make_plan(cfg, Selection(platforms=("linux/amd64",)), FP)
    assert amd.runtime[0].platforms == ("linux/amd64",)
    assert amd.runtime[0].ref == full.runtime[0].ref + "-amd64"
    assert amd.deps_ref == full.deps_ref + "-amd64"
    assert amd.runtime[0].deps_target == "deps"


def test_base_globs(write_config: Callable[[str], Path]) -> None:
    cfg = load_config(write_config(MANY))
    plan = make_plan(cfg, Selection(bases=("swebench/task-1*",)), FP)
    assert [r.base for r in plan.runtime] == ["swebench/task-1:latest"]
    with pytest.raises(ConfigError, match="no base matches"):
        make_plan(cfg, Selection(bases=("nothing*",)), FP)


def test_shards_partition(write_config: Callable[[str], Path]) -> None:
    cfg = load_config(write_config(MANY))
    seen: list[str] = []
    for i in range(1, 4):
        plan = make_plan(cfg, Selection(shard=(i, 3)), FP)
        seen += [r.base for r in plan.runtime]
        assert len(plan.runtime) in (3, 4)
    assert sorted(seen) == sorted(b.image for b in cfg.bases)


@pytest.mark.parametrize("bad", ["0/3", "4/3", "x", "1/0", "1-3"])
def test_bad_shard(bad: str) -> None:
    with pytest.raises(ConfigError, match="--shard"):
        parse_shard(bad)


def test_platform_order_and_repeats_change_nothing(write_config: Callable[[str], Path]) -> None:
    head = BASE_CONFIG.replace(
        'platforms = ["linux/amd64", "linux/arm64"]',
        'platforms = ["linux/arm64", "linux/amd64", "linux/arm64"]',
    )
    bases = '[[bases]]\nimage = "debian:bookworm"\nplatforms = ["linux/arm64", "linux/amd64"]\n'
    cfg = load_config(write_config(bases, head=head))
    assert cfg.build.platforms == ("linux/amd64", "linux/arm64")
    plan = make_plan(cfg, Selection(platforms=("linux/arm64", "linux/amd64")), FP)
    assert [d.name for d in plan.deps] == ["deps"]
    assert plan.deps[0].platforms == ("linux/amd64", "linux/arm64")
    assert plan.runtime[0].deps_target == "deps"
    assert plan.runtime[0].ref == (
        "127.0.0.1:5000/openhands/runtime:debian_t_bookworm-ab46c104-0123456789ab-fedcba987654"
    )


def test_a_smaller_platform_set_never_shares_a_tag(write_config: Callable[..., Path]) -> None:
    """Same inputs, build.platforms amd64 only: the tags say so, so this config never
    overwrites the amd64+arm64 images of a config with the standard set."""
    head = BASE_CONFIG.replace(
        'platforms = ["linux/amd64", "linux/arm64"]', 'platforms = ["linux/amd64"]'
    )
    cfg = load_config(write_config('[[bases]]\nimage = "debian:bookworm"\n', head=head))
    plan = make_plan(cfg, Selection(), FP)
    assert [d.name for d in plan.deps] == ["deps"]
    assert plan.deps_ref == "127.0.0.1:5000/openhands/runtime-deps:0123456789abcdef-amd64"
    assert plan.runtime[0].ref == (
        "127.0.0.1:5000/openhands/runtime:debian_t_bookworm-ab46c104-0123456789ab-fedcba987654-amd64"
    )
