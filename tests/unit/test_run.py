"""run.py against a fake engine module (the only place tests may fake Docker)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from builder import engine
from builder import run as run_module
from builder.builders import BuilderInfo
from builder.config import load_config
from builder.errors import BuildError, EngineError, OutputError, RegistryLoginError
from builder.outdir import output_lock
from builder.plan import Selection
from builder.prepare import Prepared, prepare
from builder.run import run_bake
from tests.conftest import TWO_BASES
from tests.unit.test_builders import DAEMON


class FakeEngine:
    def __init__(
        self,
        existing: set[str] = frozenset(),
        failing: set[str] = frozenset(),
        stage: str = "stage-0",
        cache_miss: bool = False,
        error: str = "exit code: 1",
        cache_fail: int = 0,
    ) -> None:
        self.error = error  # what the failing step says
        self.cache_fail = cache_fail  # bakes whose deps cache export the registry refuses
        self.cache_miss = cache_miss  # no registry cache yet: buildx reports ERROR … not found
        self.existing = set(existing)
        self.failing = set(failing)
        self.stage = stage  # the stage of the step that fails
        self.calls: list[list[str]] = []
        self.options: list[dict[str, object]] = []
        self.progress: list[str] = []

    def bake_stream(
        self,
        bake_file: Path,
        targets: Sequence[str],
        *,
        metadata_file: Path,
        progress: str = "plain",
        **kw: object,
    ) -> Iterator[str]:
        """Two steps per target (one cached) in buildx's plain or rawjson form."""
        self.calls.append(list(targets))
        self.progress.append(progress)
        self.options.append(kw)
        assert bake_file.is_file()
        meta = {}
        for i, t in enumerate(targets):
            prefix = f"{t} " if len(targets) > 1 else ""
            failing = t in self.failing
            if self.cache_miss and progress != "rawjson":
                head = f"[{t}] " if len(targets) > 1 else ""
                ref = f"127.0.0.1:5000/openhands/runtime-cache:{t}--main"
                yield f"#{i + 30} {head}importing cache manifest from {ref}"
                why = f"failed to configure registry cache importer: {ref}: not found"
                yield f"#{i + 30} ERROR: {why}"
            if progress == "rawjson":
                yield from rawjson(f"v{i}", f"[{prefix}stage-0 1/2] RUN a", cached=True)
                yield from rawjson(
                    f"w{i}",
                    f"[{prefix}{self.stage if failing else 'stage-0'} 2/2] RUN b",
                    error=self.error if failing else "",
                )
            else:
                yield f"#{i + 1} [{prefix}stage-0 1/2] RUN a"
                yield f"#{i + 1} CACHED"
                yield f"#{i + 10} [{prefix}{self.stage if failing else 'stage-0'} 2/2] RUN b"
                yield f"#{i + 10} ERROR: {self.error}" if failing else f"#{i + 10} DONE 0.1s"
            if t == "deps" and self.cache_fail and progress != "rawjson":
                self.cache_fail -= 1
                yield f"#{i + 40} [{prefix.strip()}] exporting cache to registry"
                yield f"#{i + 40} ERROR: error writing manifest blob: 400 Bad Request"
            if not failing:
                meta[t] = {"containerimage.digest": f"sha256:{t:0>64}"[-71:]}
        if any(t in self.failing for t in targets):
            yield "ERROR: failed to solve"
            if len(targets) == 1:
                metadata_file.write_text(json.dumps(meta))
            raise BuildError("bake failed")
        metadata_file.write_text(json.dumps(meta))


def rawjson(digest: str, name: str, *, cached: bool = False, error: str = "") -> list[str]:
    vertex: dict[str, object] = {"digest": digest, "name": name, "started": "t", "completed": "t"}
    if cached:
        vertex["cached"] = True
    if error:
        vertex["error"] = error
    return json.dumps({"vertexes": [vertex]}, indent=2).splitlines()


@pytest.fixture
def prepared(write_config: Callable[[str], Path]):  # type: ignore[no-untyped-def]
    return prepare(load_config(write_config(TWO_BASES)), Selection())


def install(
    monkeypatch: pytest.MonkeyPatch, fake: FakeEngine, builder: BuilderInfo = DAEMON
) -> None:
    monkeypatch.setattr(engine, "check_engine", lambda: {})
    monkeypatch.setattr(engine, "builder_info", lambda name: builder)
    monkeypatch.setattr(engine, "bake_stream", fake.bake_stream)
    monkeypatch.setattr(
        engine,
        "image_exists",
        lambda ref, platforms=(): (ref, *platforms) in fake.existing or ref in fake.existing,
    )


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
    assert fake.options[0]["builder"] == "oh-buildkitd" and fake.options[0]["push"] is True
    assert fake.options[0]["overrides"] == {}
    assert {r.status for r in results} == {"built"}
    data = json.loads(meta.read_text())
    assert [d["target"] for d in data] == ["deps", "runtime-debian-bookworm", "runtime-busybox"]
    assert all(d["cached_steps"] == 1 and d["total_steps"] == 2 for d in data)


def test_rewrite_timestamp_on_a_daemon_and_refused_on_the_docker_driver(
    write_config: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write_config(TWO_BASES)
    cfg.write_text(cfg.read_text().replace("[build]\n", "[build]\nrewrite_timestamp = true\n", 1))
    prepared = prepare(load_config(cfg), Selection())
    fake = FakeEngine()
    install(monkeypatch, fake)
    run_bake(prepared, output=tmp_path / "b", push=True, progress="quiet")
    # On a BuildKit daemon the push is the rewrite-timestamp output, not --push.
    assert fake.options[0]["push"] is False
    assert fake.options[0]["overrides"] == {"*.output": "type=registry,rewrite-timestamp=true"}
    docker = replace(DAEMON, name="default", driver="docker", containerd_store=True)
    install(monkeypatch, fake, docker)
    prepared = prepare(load_config(cfg), Selection(), cache_flavor=docker.cache_flavor)
    with pytest.raises(EngineError, match=r"builder default .* cannot rewrite layer timestamps"):
        run_bake(prepared, output=tmp_path / "b", push=True, progress="quiet")
    assert len(fake.calls) == 1, "nothing built on a builder that lacks what the config asks"


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


@pytest.fixture
def bad_busybox(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    """A fake engine on which the busybox runtime target fails."""
    fake = FakeEngine(failing={"runtime-busybox"})
    install(monkeypatch, fake)
    return fake


def bake_failing(
    prepared: Prepared, tmp_path: Path, progress: str, **kw: Any
) -> tuple[BuildError, dict[str, dict[str, Any]]]:
    """run_bake that must fail: (the error, the metadata file's entries by target)."""
    meta = tmp_path / "meta.json"
    with pytest.raises(BuildError) as exc:
        run_bake(
            prepared,
            output=tmp_path / "b",
            push=True,
            metadata_file=meta,
            progress=progress,
            **kw,
        )
    return exc.value, {d["target"]: d for d in json.loads(meta.read_text())}


def test_one_bad_base_does_not_stop_the_others(
    prepared: Prepared, tmp_path: Path, bad_busybox: FakeEngine
) -> None:
    error, data = bake_failing(prepared, tmp_path, "quiet")
    assert error.exit_code == 4 and "runtime-busybox" in str(error)
    status = {t: d["status"] for t, d in data.items()}
    assert status == {
        "deps": "built",
        "runtime-debian-bookworm": "built",
        "runtime-busybox": "failed",
    }
    assert data["runtime-busybox"]["log_tail"]
    # One retry, of everything that did not fail, together (not one bake per target).
    assert bad_busybox.calls == [
        ["deps", "runtime-debian-bookworm", "runtime-busybox"],
        ["deps", "runtime-debian-bookworm"],
    ]
    log = Path(data["runtime-busybox"]["log"])
    assert log == tmp_path / "b" / "logs" / "runtime-busybox.log"
    assert "RUN b: ERROR: exit code: 1" in log.read_text()
    assert "runtime-busybox.log" in str(error)
    bookworm = Path(data["runtime-debian-bookworm"]["log"]).read_text()
    assert bookworm.count("== docker buildx bake") == 2 and "RUN a: CACHED" in bookworm


def test_a_first_run_without_any_registry_cache_keeps_going(
    prepared: Prepared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CI failure of a brand-new machine: every cache import is a miss and one base
    fails; the others are built, not counted as failed."""
    fake = FakeEngine(failing={"runtime-busybox"}, cache_miss=True)
    install(monkeypatch, fake)
    _, data = bake_failing(prepared, tmp_path, "plain", echo=lambda line: None)
    assert {t: d["status"] for t, d in data.items()} == {
        "deps": "built",
        "runtime-debian-bookworm": "built",
        "runtime-busybox": "failed",
    }
    assert len(fake.calls) == 2
    assert data["deps"]["builder"] == "oh-buildkitd"
    log = Path(data["runtime-debian-bookworm"]["log"]).read_text()
    assert "cache miss (failed to configure registry cache importer" in log


def test_live_mode_reads_rawjson(
    prepared: Prepared, tmp_path: Path, bad_busybox: FakeEngine
) -> None:
    _, data = bake_failing(prepared, tmp_path, "live")
    assert set(bad_busybox.progress) == {"rawjson"}
    assert data["deps"]["status"] == "built"
    assert (data["deps"]["cached_steps"], data["deps"]["total_steps"]) == (1, 2)
    assert data["runtime-busybox"]["status"] == "failed"
    assert any("exit code: 1" in line for line in data["runtime-busybox"]["log_tail"])


def test_plain_on_github_actions_groups_and_annotates(
    prepared: Prepared,
    tmp_path: Path,
    bad_busybox: FakeEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    lines: list[str] = []
    bake_failing(prepared, tmp_path, "plain", echo=lines.append)
    assert set(bad_busybox.progress) == {"plain"}
    groups = [line for line in lines if line.startswith("::group::")]
    assert groups[0] == "::group::docker buildx bake deps runtime-debian-bookworm runtime-busybox"
    assert groups[1:] == ["::group::docker buildx bake deps runtime-debian-bookworm"]
    assert lines.count("::endgroup::") == len(groups)
    errors = [line for line in lines if line.startswith("::error")]
    assert len(errors) == 1 and "runtime-busybox failed" in errors[0]


def test_a_failed_deps_blocks_its_runtime_targets_at_once(
    prepared: Prepared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeEngine(failing={"deps"}, stage="venv")
    install(monkeypatch, fake)
    error, data = bake_failing(prepared, tmp_path, "quiet")
    assert data["deps"]["status"] == "failed"
    assert data["runtime-debian-bookworm"]["status"] == "failed"
    assert data["runtime-debian-bookworm"]["reason"] == "blocked by deps"
    assert "runtime-debian-bookworm (blocked by deps)" in str(error)
    # busybox (amd64 only) has a deps target of its own: it is baked again, alone.
    assert fake.calls[1:] == [["runtime-busybox"]]
    assert data["runtime-busybox"]["status"] == "built"


def test_a_deps_stage_failing_under_a_runtime_target_fails_deps(
    write_config: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bake may name a shared deps step after a runtime target whose `target:` context
    it is: a failure in a deps stage still means deps failed, not that base."""
    bases = '[[bases]]\nimage = "debian:bookworm"\n\n[[bases]]\nimage = "debian:trixie"\n'
    prepared = prepare(load_config(write_config(bases)), Selection())
    fake = FakeEngine(failing={"runtime-debian-trixie"}, stage="venv")
    install(monkeypatch, fake)
    _, data = bake_failing(prepared, tmp_path, "quiet")
    assert len(fake.calls) == 1, "no further bake after deps failed"
    assert {t: d["status"] for t, d in data.items()} == dict.fromkeys(data, "failed")
    assert data["runtime-debian-bookworm"]["reason"] == "blocked by deps"


PUSH_REFUSED = (
    "failed to push 127.0.0.1:5000/openhands/runtime-deps:abc: unexpected status from PUT "
    "request to http://127.0.0.1:5000/v2/openhands/runtime-deps/blobs/uploads/: 401 Unauthorized"
)


def test_a_push_refused_for_its_login_is_an_engine_error(
    prepared,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    """Every target failed because the registry refused the login: one line naming it
    and `docker login`, exit 3 (not 4: nothing is wrong with the build)."""
    fake = FakeEngine(failing={"deps"}, error=PUSH_REFUSED)
    install(monkeypatch, fake)
    with pytest.raises(RegistryLoginError) as err:
        run_bake(prepared, output=tmp_path / "b", push=True, progress="quiet")
    assert err.value.exit_code == 3
    msg = str(err.value)
    assert msg.startswith("127.0.0.1:5000: the registry refused the login for 127.0.0.1:5000/")
    assert "run `docker login 127.0.0.1:5000`" in msg and "\n" not in msg
    assert isinstance(err.value.results, list)  # the summary still shows every target


PUSH_500 = (
    "failed to push 127.0.0.1:5000/openhands/runtime:x: unexpected status from PUT request to "
    "http://127.0.0.1:5000/v2/openhands/runtime/manifests/x: 500 Internal Server Error"
)


class Flaky(FakeEngine):
    """The registry fails the pushes of ``failing`` for the first ``times`` bakes."""

    def __init__(self, times: int, **kw: Any) -> None:
        super().__init__(**kw)
        self.times = times

    def bake_stream(self, *args: Any, **kw: Any) -> Iterator[str]:
        if len(self.calls) >= self.times:
            self.failing = set()
        return super().bake_stream(*args, **kw)


def test_a_transient_registry_error_is_baked_again(
    prepared,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    fake = Flaky(2, failing={"runtime-busybox"}, error=PUSH_500)
    install(monkeypatch, fake)
    slept: list[float] = []
    monkeypatch.setattr(run_module.time, "sleep", slept.append)
    results = run_bake(prepared, output=tmp_path / "b", push=True, progress="quiet")
    assert {r.name: r.status for r in results}["runtime-busybox"] == "built"
    # buildx stops the others when one fails: each try bakes what had not finished.
    assert fake.calls == [["deps", "runtime-debian-bookworm", "runtime-busybox"]] * 3
    assert slept == list(run_module.RETRY_DELAYS)
    log = (tmp_path / "b" / "logs" / "runtime-busybox.log").read_text()
    assert "transient registry error; baking it again in 2.0 s (try 2 of 3)" in log


def test_a_registry_failing_every_try_fails_the_target(
    prepared,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    fake = Flaky(99, failing={"runtime-busybox"}, error=PUSH_500)
    install(monkeypatch, fake)
    monkeypatch.setattr(run_module.time, "sleep", lambda s: None)
    with pytest.raises(BuildError) as err:
        run_bake(prepared, output=tmp_path / "b", push=True, progress="quiet")
    # The first bake and one per retry, then the rest without it.
    assert len(fake.calls) == 1 + len(run_module.RETRY_DELAYS) + 1
    assert fake.calls[-1] == ["deps", "runtime-debian-bookworm"]
    assert {r.name: r.status for r in err.value.results}["runtime-busybox"] == "failed"


def test_a_failed_step_is_never_retried(
    prepared,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    fake = Flaky(99, failing={"runtime-busybox"})  # exit code: 1
    install(monkeypatch, fake)
    with pytest.raises(BuildError):
        run_bake(prepared, output=tmp_path / "b", push=True, progress="quiet")
    assert fake.calls[1:] == [["deps", "runtime-debian-bookworm"]]  # never busybox again


def test_a_failed_cache_export_is_done_again_on_its_own(
    prepared,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    fake = FakeEngine(cache_fail=1)
    install(monkeypatch, fake)
    meta = tmp_path / "meta.json"
    results = run_bake(
        prepared, output=tmp_path / "b", push=True, metadata_file=meta, progress="quiet"
    )
    assert fake.calls == [["deps", "runtime-debian-bookworm", "runtime-busybox"], ["deps"]]
    assert fake.options[1]["overrides"] == {"*.output": "type=cacheonly"}
    assert fake.options[1]["push"] is False  # nothing is pushed again
    deps = {r.name: r for r in results}["deps"]
    assert deps.status == "built" and deps.cache_error == ""
    assert deps.digest  # the build's own figures stay
    log = (tmp_path / "b" / "logs" / "deps.log").read_text()
    assert "exporting it again on its own" in log and "cache export done" in log


def test_a_cache_export_failing_again_is_reported(
    prepared,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    fake = FakeEngine(cache_fail=2)
    install(monkeypatch, fake)
    results = run_bake(prepared, output=tmp_path / "b", push=True, progress="quiet")
    deps = {r.name: r for r in results}["deps"]
    assert deps.status == "built" and "400 Bad Request" in deps.cache_error
    assert len(fake.calls) == 2


def test_unwritable_metadata_is_one_error_line(
    prepared: Prepared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeEngine()
    install(monkeypatch, fake)
    with pytest.raises(OutputError, match="metadata file: its directory does not exist"):
        run_bake(prepared, output=tmp_path / "b", metadata_file=tmp_path / "no" / "m.json")
    assert fake.calls == [], "nothing built for metadata that cannot be written"
    (tmp_path / "ro").mkdir()
    meta = tmp_path / "ro" / "m.json"
    meta.mkdir()  # a directory where the file should go: writing it fails after the bake
    with pytest.raises(OutputError) as exc:
        run_bake(prepared, output=tmp_path / "b", metadata_file=meta, progress="quiet")
    assert exc.value.exit_code == 6 and str(meta) in str(exc.value)


def test_output_in_use_is_refused(
    prepared: Prepared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(monkeypatch, FakeEngine())
    with output_lock(tmp_path / "b"), pytest.raises(OutputError, match="in use by another"):
        run_bake(prepared, output=tmp_path / "b", progress="quiet")
    assert not (tmp_path / "b").exists()
