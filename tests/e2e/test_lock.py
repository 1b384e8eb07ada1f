"""builder.lock against the real registry: a base updated under the same tag is seen by
`lock --check`, becomes a new tag after `lock --update`, the old tag stays as it was,
and an unchanged rerun pushes nothing."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.e2e import registry
from tests.e2e.conftest import BIN, LOGS, sh
from tests.e2e.timings import timed
from tests.sample import sample_head

OH = str(BIN / "oh-builder")
BUSYBOX = "127.0.0.1:5000/oh-test/busybox:static"
MUSL = "127.0.0.1:5000/oh-test/musl:latest"


def bake(cfg: Path, out: Path, log: str) -> dict[str, dict[str, object]]:
    meta = out / f"{log}.json"
    sh(
        OH, "bake", "--push", "--progress", "plain", "--no-cache-export", "-c", str(cfg),
        "--output", str(out / "build"), "--metadata-file", str(meta), log=LOGS / f"{log}.log",
    )  # fmt: skip
    return {d["target"]: d for d in json.loads(meta.read_text())}


def test_a_base_update_is_a_new_tag_after_lock_update(
    baked: dict[str, object], tmp_path: Path
) -> None:
    tag = f"moving-{uuid.uuid4().hex[:8]}"
    image = f"127.0.0.1:5000/oh-test/lockbase:{tag}"
    first = registry.copy(BUSYBOX, "oh-test/lockbase", [tag])
    cfg = tmp_path / "builder.toml"
    cfg.write_text(
        sample_head().replace(
            'platforms = ["linux/amd64", "linux/arm64"]', 'platforms = ["linux/amd64"]', 1
        )
        + f'[[bases]]\nimage = "{image}"\nname = "moving"\n'
    )
    lock = cfg.with_suffix(".lock")
    sh(OH, "lock", "-c", str(cfg))
    assert f'["{image}"]\ndigest = "{first}"' in lock.read_text()

    def tags() -> str:
        return str(json.loads(sh(OH, "tags", "--json", "-c", str(cfg)).stdout)["runtime"][image])

    old_ref = tags()
    with timed("lock: bake on a locked base (amd64)"):
        assert bake(cfg, tmp_path, "lock-1")["runtime-moving"]["status"] == "built"
    old_manifest = registry.get(old_ref)

    # The base moves in its registry under the same tag.
    second = registry.copy(MUSL, "oh-test/lockbase", [tag])
    assert second != first
    r = sh(OH, "lock", "--check", "-c", str(cfg), check=False)
    assert r.returncode == 7, r.stdout + r.stderr
    assert f"moved: {image}" in r.stderr and "lock --update" in r.stderr
    # Until the lock takes the update, nothing changes: same tag, skipped as existing.
    assert tags() == old_ref
    assert bake(cfg, tmp_path, "lock-2")["runtime-moving"]["status"] == "exists"

    sh(OH, "lock", "--update", "-c", str(cfg))
    assert f'["{image}"]\ndigest = "{second}"' in lock.read_text()
    new_ref = tags()
    assert new_ref != old_ref
    assert new_ref.split(":")[-1].split("-")[0] == old_ref.split(":")[-1].split("-")[0]  # slug
    with timed("lock: bake after lock --update (amd64)"):
        assert bake(cfg, tmp_path, "lock-3")["runtime-moving"]["status"] == "built"
    assert registry.get(old_ref) == old_manifest, "the old tag was rewritten"
    labels = registry.image_config(new_ref)["config"]["Labels"]
    assert labels["org.opencontainers.image.base.digest"] == second
    assert labels["org.opencontainers.image.base.name"] == image

    # The same inputs again: nothing to build, nothing pushed.
    before = registry.storage()
    again = bake(cfg, tmp_path, "lock-4")
    assert {d["status"] for d in again.values()} == {"exists"}, again
    assert registry.storage() == before


def test_lock_names_a_base_the_registry_lacks(engine: None, tmp_path: Path) -> None:
    cfg = tmp_path / "builder.toml"
    gone = "127.0.0.1:5000/oh-test/does-not-exist:nope"
    cfg.write_text(sample_head() + f'[[bases]]\nimage = "{gone}"\n')
    r = sh(OH, "lock", "-c", str(cfg), check=False)
    assert r.returncode == 3, r.stdout + r.stderr
    assert r.stderr.strip().splitlines() == [
        f"error: {gone}: not found in its registry; check the reference in {cfg}"
    ]
    assert not cfg.with_suffix(".lock").exists(), "a failed lock wrote a lock file"
    r = sh(OH, "bake", "-c", str(cfg), "--output", str(tmp_path / "build"), check=False)
    assert r.returncode == 2 and "run `oh-builder lock -c" in r.stderr
    assert not (tmp_path / "build").exists()
