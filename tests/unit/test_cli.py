"""CLI tests with typer's CliRunner: exact outputs and exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from builder.cli import app, main
from tests.conftest import TWO_BASES

runner = CliRunner()


def test_plan_writes_build_dir(write_config: Callable[[str], Path], tmp_path: Path) -> None:
    cfg = write_config(TWO_BASES)
    out = tmp_path / "out"
    result = runner.invoke(app, ["plan", "--config", str(cfg), "--output", str(out)])
    assert result.exit_code == 0, result.output
    for f in (
        "docker-bake.hcl",
        "deps.Dockerfile",
        "runtime.Dockerfile",
        "lock/poetry.lock",
        "wrappers/bin/oh-python",
        "tools/relocate.py",
    ):
        assert (out / f).is_file(), f
    assert "runtime-busybox" in result.output
    assert not list(tmp_path.glob(".out.*")), "temporary directories left behind"


def test_plan_never_replaces_a_directory_it_did_not_write(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    cfg = write_config(TWO_BASES)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    result = runner.invoke(app, ["plan", "--config", str(cfg), "--output", str(mine)])
    assert result.exit_code == 6
    assert f"{mine}: exists and was not written by oh-builder (no .oh-builder file" in (
        result.output
    )
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert (mine / "notes.txt").read_text() == "keep me"
    # Its own directory (the marker) and an empty one are replaced; tests/unit/test_outdir.py
    # has the cases that are refused.
    for name in ("ours", "empty"):
        out = tmp_path / name
        out.mkdir()
        if name == "ours":
            assert runner.invoke(app, ["plan", "-q", "-c", str(cfg), "-o", str(out)]).exit_code == 0
            (out / "logs").mkdir()
            (out / "logs" / "deps.log").write_text("a bake's log")
        result = runner.invoke(app, ["plan", "-q", "-c", str(cfg), "-o", str(out)])
        assert result.exit_code == 0, (name, result.output)
        assert (out / ".oh-builder").is_file() and not (out / "logs").exists()
    assert not list(tmp_path.glob(".*oh-tmp*")), "temporary directories left behind"


def test_build_dir_mtimes_follow_content(tmp_path: Path) -> None:
    """BuildKit's context transfer skips a file whose size and mtime it has seen: an edit
    that keeps the size (a version bump in poetry.lock) must change the mtime, and the
    same content must get the same mtime on every machine (COPY keeps it)."""
    from builder.outdir import ContextFile, write_build_dir

    def mtimes(*texts: bytes) -> list[int]:
        out = tmp_path / "b"
        files = {f"f{i}": ContextFile(data=t, executable=False) for i, t in enumerate(texts)}
        write_build_dir(out, files)
        return [int((out / f"f{i}").stat().st_mtime) for i in range(len(texts))]

    old, new, again = mtimes(b'version = "3.10"', b'version = "3.20"', b'version = "3.10"')
    assert old != new and old == again
    assert mtimes(b'version = "3.10"')[0] == old  # stable across writes


def test_plan_quiet_and_env_config(
    write_config: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write_config(TWO_BASES)
    monkeypatch.setenv("OH_BUILDER_CONFIG", str(cfg))
    result = runner.invoke(app, ["plan", "-q", "--output", str(tmp_path / "o")])
    assert result.exit_code == 0 and result.output == ""


def test_tags_json(write_config: Callable[[str], Path]) -> None:
    cfg = write_config(TWO_BASES)
    result = runner.invoke(app, ["tags", "--config", str(cfg), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"deps", "runtime"}
    assert data["deps"].startswith("127.0.0.1:5000/openhands/runtime-deps:")
    assert set(data["runtime"]) == {"debian:bookworm", "127.0.0.1:5000/oh-test/busybox:static"}
    assert data["runtime"]["debian:bookworm"].startswith(
        "127.0.0.1:5000/openhands/runtime:debian_t_bookworm-"
    )


BAD = [
    ('[[bases]]\nimage = "debian:bookworm"\nimgae = "x"\n', "did you mean 'image'"),
    ('[[bases]]\nimage = "NOT VALID"\n', "not a valid image reference"),
    ('[[bases]]\nimage = "a:1"\nplatforms = ["linux/amd65"]\n', "unknown platform"),
    ('[[bases]]\nimage = "a:1"\n[[bases]]\nimage = "a:1"\n', "already listed"),
    ("", "no bases"),
]


@pytest.mark.parametrize(("bases", "fragment"), BAD)
def test_bad_config_exit_2_one_line(
    write_config: Callable[[str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    bases: str,
    fragment: str,
) -> None:
    cfg = write_config(bases)
    out = tmp_path / "out"
    monkeypatch.setattr("sys.argv", ["oh-builder", "plan", "--config", str(cfg), "-o", str(out)])
    monkeypatch.setenv("COLUMNS", "400")
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert str(cfg) in err and fragment in err
    assert "Traceback" not in err
    assert not out.exists(), "nothing may be written on bad input"


def test_missing_config_and_missing_app(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setattr("sys.argv", ["oh-builder", "tags", "--config", str(tmp_path / "x.toml")])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    assert "config file not found" in capsys.readouterr().err


def test_existing_output_survives_failure(
    write_config: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write_config(TWO_BASES)
    out = tmp_path / "out"
    assert runner.invoke(app, ["plan", "-c", str(cfg), "-o", str(out), "-q"]).exit_code == 0
    before = (out / "docker-bake.hcl").read_text()
    cfg.write_text(cfg.read_text().replace('image = "debian:bookworm"', 'image = "BAD REF"'))
    result = runner.invoke(app, ["plan", "-c", str(cfg), "-o", str(out), "-q"])
    assert result.exit_code == 2
    assert (out / "docker-bake.hcl").read_text() == before


def test_bad_shard_and_platform(write_config: Callable[[str], Path], tmp_path: Path) -> None:
    cfg = write_config(TWO_BASES)
    r = runner.invoke(app, ["plan", "-c", str(cfg), "-o", str(tmp_path / "o"), "--shard", "3/2"])
    assert r.exit_code == 2
    r = runner.invoke(app, ["plan", "-c", str(cfg), "-o", str(tmp_path / "o"), "--platform", "x/y"])
    assert r.exit_code == 2


def test_shard_selects_subset(write_config: Callable[[str], Path], tmp_path: Path) -> None:
    cfg = write_config(TWO_BASES)
    r = runner.invoke(app, ["tags", "-c", str(cfg), "--json", "--base", "busy*"])
    assert list(json.loads(r.output)["runtime"]) == ["127.0.0.1:5000/oh-test/busybox:static"]


def test_help_lists_commands() -> None:
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    assert "plan" in r.output and "tags" in r.output


def test_bake_passes_options_to_run(
    write_config: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, object] = {}

    def fake_run_bake(prepared: object, **kw: object) -> list[object]:
        seen.update(kw, plan=prepared.plan)  # type: ignore[attr-defined]
        return []

    monkeypatch.setattr("builder.run.run_bake", fake_run_bake)
    monkeypatch.setattr("builder.run.resolve_builder", fake_builder)
    cfg = write_config(TWO_BASES)
    r = runner.invoke(
        app,
        [
            "bake",
            "-c",
            str(cfg),
            "-o",
            str(tmp_path / "o"),
            "--push",
            "--force",
            "--cache-branch",
            "feat/x",
            "--no-cache-export",
            "--progress",
            "quiet",
            "--builder",
            "oh-buildkitd",
        ],
    )
    assert r.exit_code == 0, r.output
    assert seen["push"] is True and seen["force"] is True
    assert seen["builder"].name == "oh-buildkitd"  # type: ignore[attr-defined]
    plan = seen["plan"]
    assert plan.cache_branch == "feat/x"  # type: ignore[attr-defined]
    assert all(d.cache.cache_to == () for d in plan.deps)  # type: ignore[attr-defined]
    assert seen["targets"] == ["deps", "runtime-debian-bookworm", "runtime-busybox"]


def fake_builder(name: str | None) -> object:
    from dataclasses import replace

    from tests.unit.test_builders import DAEMON, DOCKER

    return replace(DOCKER if name == "default" else DAEMON, name=name or "current")


def test_the_docker_driver_gets_registry_cache_tags_of_its_own(
    write_config: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dockerd's BuildKit and a BuildKit daemon compute other cache keys: one cache tag
    for both would have each replace the other's cache."""
    seen: dict[str, object] = {}
    monkeypatch.setattr(
        "builder.run.run_bake", lambda prepared, **kw: seen.update(kw, p=prepared) or []
    )
    monkeypatch.setattr("builder.run.resolve_builder", fake_builder)
    cfg = write_config(TWO_BASES)
    for name, tail in (("oh-buildkitd", "--main"), ("default", "--main--dockerd")):
        args = ["bake", "-c", str(cfg), "-o", str(tmp_path / "o"), "--progress", "quiet"]
        r = runner.invoke(app, [*args, "--cache-branch", "main", "--builder", name])
        assert r.exit_code == 0, r.output
        deps = seen["p"].plan.deps[0]  # type: ignore[attr-defined]
        assert deps.cache.cache_to[0].startswith("type=registry,ref=127.0.0.1:5000/")
        assert deps.cache.cache_to[0].split(",")[1].endswith(f":deps{tail}"), deps.cache
    # plan: the tags of the builder it is given; none given: a daemon's (nothing inspected)
    out = tmp_path / "p"
    assert runner.invoke(app, ["plan", "-q", "-c", str(cfg), "-o", str(out)]).exit_code == 0
    assert "deps--main--dockerd" not in (out / "docker-bake.hcl").read_text()
    r = runner.invoke(app, ["plan", "-q", "-c", str(cfg), "-o", str(out), "--builder", "default"])
    assert r.exit_code == 0 and "deps--main--dockerd" in (out / "docker-bake.hcl").read_text()


def test_builder_from_config_env_and_flag(
    write_config: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--builder, then BUILDX_BUILDER (buildx's own variable), then [build] builder, else
    None (buildx's current builder)."""
    seen: list[object] = []
    monkeypatch.setattr("builder.run.run_bake", lambda prepared, **kw: [])
    monkeypatch.setattr(
        "builder.run.resolve_builder", lambda name: seen.append(name) or fake_builder(name)
    )
    monkeypatch.delenv("BUILDX_BUILDER", raising=False)
    cfg = write_config(TWO_BASES)
    args = ["bake", "-c", str(cfg), "-o", str(tmp_path / "o"), "--progress", "quiet"]
    args += ["--cache-branch", "main"]
    assert runner.invoke(app, args).exit_code == 0
    cfg.write_text(cfg.read_text().replace("[build]\n", '[build]\nbuilder = "from-config"\n', 1))
    assert runner.invoke(app, args).exit_code == 0
    assert runner.invoke(app, args, env={"BUILDX_BUILDER": "from-env"}).exit_code == 0
    assert runner.invoke(app, [*args, "--builder", "from-flag"]).exit_code == 0
    assert seen == [None, "from-config", "from-env", "from-flag"]
    cfg.write_text(cfg.read_text().replace('"from-config"', '"no good"'))
    r = runner.invoke(app, args)
    assert r.exit_code == 2 and "build.builder: 'no good' is not a buildx builder name" in r.output


def test_a_builder_that_does_not_exist_is_one_line_exit_3(
    write_config: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from builder import engine
    from builder.errors import EngineError

    def no_builder(name: str | None) -> None:
        raise EngineError(f"builder {name}: no such builder; `docker buildx ls` lists them")

    calls: list[object] = []
    monkeypatch.setattr(engine, "check_engine", lambda: {})
    monkeypatch.setattr(engine, "builder_info", no_builder)
    monkeypatch.setattr(engine, "bake_stream", lambda *a, **k: calls.append(a) or iter(()))
    cfg = write_config(TWO_BASES)
    out = tmp_path / "o"
    r = runner.invoke(
        app, ["bake", "-c", str(cfg), "-o", str(out), "--builder", "nope", "--cache-branch", "x"]
    )
    assert r.exit_code == 3, r.output
    assert "error: builder nope: no such builder; `docker buildx ls` lists them" in r.output
    assert "Traceback" not in r.output and not calls and not out.exists()
