"""run.py against a fake engine module (the only place tests may fake Docker)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from builder import engine
from builder.config import load_config
from builder.errors import BuildError
from builder.plan import Selection
from builder.prepare import prepare
from builder.run import run_bake
from tests.conftest import TWO_BASES


class FakeEngine:
    def __init__(self, existing: set[str] = frozenset(), failing: set[str] = frozenset()) -> None:
        self.existing = set(existing)
        self.failing = set(failing)
        self.calls: list[list[str]] = []

    def bake_stream(
        self, bake_file: Path, targets: Sequence[str], *, metadata_file: Path, **kw: object
    ) -> Iterator[str]:
        self.calls.append(list(targets))
        assert bake_file.is_file()
        meta = {}
        for i, t in enumerate(targets):
            yield f"#{i + 1} [{t} stage-0 1/2] FROM base"
            yield f"#{i + 1} CACHED"
            yield f"#{i + 10} [{t} stage-0 2/2] RUN x"
            yield f"#{i + 10} DONE 0.1s"
            if t not in self.failing:
                meta[t] = {"containerimage.digest": f"sha256:{t:0>64}"[-71:]}
        if any(t in self.failing for t in targets):
            yield "ERROR: failed to solve"
            if len(targets) == 1:
                metadata_file.write_text(json.dumps(meta))
            raise BuildError("bake failed")
        metadata_file.write_text(json.dumps(meta))


@pytest.fixture
def prepared(write_config: Callable[[str], Path]):  # type: ignore[no-untyped-def]
    return prepare(load_config(write_config(TWO_BASES)), Selection())


def install(monkeypatch: pytest.MonkeyPatch, fake: FakeEngine) -> None:
    monkeypatch.setattr(engine, "check_engine", lambda: {})
    monkeypatch.setattr(engine, "bake_stream", fake.bake_stream)
    monkeypatch.setattr(engine, "image_exists", lambda ref: ref in fake.existing)


def test_builds_all_and_counts_cached(
    prepared,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    fake = FakeEngine()
    install(monkeypatch, fake)
    meta = tmp_path / "meta.json"
    results = run_bake(
        prepared, output=tmp_path / "b", push=True, metadata_file=meta, progress="quiet"
    )
    assert fake.calls == [["deps", "runtime-debian-bookworm", "runtime-busybox"]]
    assert {r.status for r in results} == {"built"}
    data = json.loads(meta.read_text())
    assert [d["target"] for d in data] == ["deps", "runtime-debian-bookworm", "runtime-busybox"]
    assert all(d["cached_steps"] == 1 and d["total_steps"] == 2 for d in data)


def test_existing_tags_are_skipped_unless_forced(
    prepared,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    fake = FakeEngine(existing={r.ref for r in prepared.plan.runtime} | {prepared.plan.deps_ref})
    install(monkeypatch, fake)
    results = run_bake(prepared, output=tmp_path / "b", push=True, progress="quiet")
    assert fake.calls == [] and {r.status for r in results} == {"exists"}
    run_bake(prepared, output=tmp_path / "b", push=True, force=True, progress="quiet")
    assert len(fake.calls) == 1


def test_one_bad_base_does_not_stop_the_others(
    prepared,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    fake = FakeEngine(failing={"runtime-busybox"})
    install(monkeypatch, fake)
    meta = tmp_path / "meta.json"
    with pytest.raises(BuildError) as exc:
        run_bake(prepared, output=tmp_path / "b", push=True, metadata_file=meta, progress="quiet")
    assert exc.value.exit_code == 4 and "runtime-busybox" in str(exc.value)
    status = {d["target"]: d["status"] for d in json.loads(meta.read_text())}
    assert status == {
        "deps": "built",
        "runtime-debian-bookworm": "built",
        "runtime-busybox": "failed",
    }
    failed = next(d for d in json.loads(meta.read_text()) if d["status"] == "failed")
    assert failed["log_tail"]
    assert fake.calls[0] == ["deps", "runtime-debian-bookworm", "runtime-busybox"]
    assert ["runtime-busybox"] in fake.calls[1:]
