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


def test_build_dir_mtimes_follow_content(tmp_path: Path) -> None:
    """BuildKit's context transfer skips a file whose size and mtime it has seen: an edit
    that keeps the size (a version bump in poetry.lock) must change the mtime, and the
    same content must get the same mtime on every machine (COPY keeps it)."""
    from builder.prepare import ContextFile, write_build_dir

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
        ],
    )
    assert r.exit_code == 0, r.output
    assert seen["push"] is True and seen["force"] is True
    plan = seen["plan"]
    assert plan.cache_branch == "feat/x"  # type: ignore[attr-defined]
    assert all(d.cache.cache_to == () for d in plan.deps)  # type: ignore[attr-defined]
    assert seen["targets"] == ["deps", "runtime-debian-bookworm", "runtime-busybox"]
