"""builder.lock: its text, how plans use it, and the errors that name the fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from builder.config import load_config
from builder.errors import ConfigError
from builder.lockfile import LockEntry, pinned_refs, read_lock, render_lock, write_lock
from builder.plan import Selection
from builder.prepare import prepare
from tests.conftest import TWO_BASES, fake_digest

D1, D2, D3 = (f"sha256:{c * 64}" for c in "123")


def test_the_text_is_stable_sorted_and_reads_back(tmp_path: Path) -> None:
    entries = {
        "debian:trixie": LockEntry(digest=D1, platforms={"linux/arm64": D3, "linux/amd64": D2}),
        "127.0.0.1:5000/a:b": LockEntry(digest=D2, platforms={"linux/amd64": D2}),
    }
    text = render_lock("builder.toml", entries)
    assert text.splitlines()[2:] == [
        "version = 1",
        "",
        '["127.0.0.1:5000/a:b"]',
        f'digest = "{D2}"',
        f'"linux/amd64" = "{D2}"',
        "",
        '["debian:trixie"]',
        f'digest = "{D1}"',
        f'"linux/amd64" = "{D2}"',
        f'"linux/arm64" = "{D3}"',
    ]
    path = tmp_path / "builder.lock"
    write_lock(path, text)
    assert read_lock(path).entries == entries
    assert render_lock("builder.toml", dict(reversed(entries.items()))) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version = 2\n", "version 2 is not 1; regenerate it with `oh-builder lock --update`"),
        ('version = 1\n["x:y"]\ndigest = "md5:1"\n', 'must hold digest = "sha256:…"'),
        ("version = [\n", "invalid TOML"),
    ],
)
def test_a_broken_lock_says_how_to_regenerate_it(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "builder.lock"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        read_lock(path)
    assert str(exc.value).startswith(f"{path}: ") and message in str(exc.value)


def test_plans_build_on_the_locked_digest(write_config: Callable[..., Path]) -> None:
    prepared = prepare(load_config(write_config(TWO_BASES)), Selection())
    bookworm = next(r for r in prepared.plan.runtime if r.base == "debian:bookworm")
    assert bookworm.pinned == f"debian:bookworm@{fake_digest('debian:bookworm')}"
    bake = prepared.files["docker-bake.hcl"].data.decode()
    assert f'image      = "{bookworm.pinned}"' in bake
    assert f"FROM --platform=$BUILDPLATFORM debian:trixie@{fake_digest('debian:trixie')}" in (
        prepared.files["deps.Dockerfile"].data.decode()
    )


def test_a_base_missing_from_the_lock_names_the_fix(write_config: Callable[..., Path]) -> None:
    cfg = write_config(TWO_BASES, lock=False)
    with pytest.raises(ConfigError) as exc:
        prepare(load_config(cfg), Selection())
    assert str(exc.value) == (
        f"{cfg.with_suffix('.lock')}: does not exist; "
        f"run `oh-builder lock -c {cfg}` to record the base digests"
    )
    write_config(TWO_BASES)
    text = cfg.with_suffix(".lock").read_text()
    head, _, rest = text.partition('["debian:bookworm"]')
    cfg.with_suffix(".lock").write_text(head + rest[rest.index("\n[") :])
    with pytest.raises(ConfigError, match="has no entry for 'debian:bookworm'"):
        prepare(load_config(cfg), Selection())
    # Selecting other bases needs only their entries (and deps.base's).
    prepare(load_config(cfg), Selection(bases=("busybox",)))


def test_a_platform_the_base_lacks_is_named(write_config: Callable[..., Path]) -> None:
    config = load_config(write_config(TWO_BASES))
    lock = read_lock(config.path.with_suffix(".lock"))
    amd64_only = {"debian:bookworm": LockEntry(digest=D1, platforms={"linux/amd64": D2})}
    lock = type(lock)(path=lock.path, entries={**lock.entries, **amd64_only})
    with pytest.raises(ConfigError, match="'debian:bookworm' has no linux/arm64 image"):
        pinned_refs(config, lock, config.bases)
