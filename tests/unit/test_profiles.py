"""Server profiles: where the app layer goes and how each kind of runtime image starts."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from builder.config import load_config
from builder.errors import ConfigError
from builder.outdir import ContextFile
from builder.plan import Selection
from builder.prepare import prepare, readme_placeholders
from tests.conftest import BASE_CONFIG, TWO_BASES


def v0_config(write_config: Callable[..., Path], app_dir: Path) -> Path:
    (app_dir / "openhands" / "runtime").mkdir(parents=True)
    (app_dir / "openhands" / "__init__.py").write_text("")
    (app_dir / "README.md").write_text("the real readme\n")
    head = BASE_CONFIG.replace("browser = true", 'browser = true\nserver = "openhands-v0"')
    return write_config(TWO_BASES, head=head)


def test_v0_app_layer_is_the_seeds_code_dir(
    write_config: Callable[..., Path], app_dir: Path, tmp_path: Path
) -> None:
    cfg = load_config(v0_config(write_config, app_dir))
    assert cfg.deps.entrypoint == "openhands.runtime.action_execution_server"
    files = prepare(cfg, Selection(), build_dir=str(tmp_path / "build")).files
    code = sorted(k for k in files if k.startswith("app/"))
    # The source, and the project files beside it (its version is read from there).
    assert code == [
        "app/openhands/code/README.md",
        "app/openhands/code/action_server/__init__.py",
        "app/openhands/code/openhands/__init__.py",
        "app/openhands/code/poetry.lock",
        "app/openhands/code/pyproject.toml",
    ]
    assert files["app/openhands/code/README.md"].data == b"the real readme\n"
    runtime = files["runtime.Dockerfile"].data.decode()
    assert (
        "ENV MAMBA_ROOT_PREFIX=/openhands/micromamba POETRY_VIRTUALENVS_PATH=/openhands/poetry"
        in (runtime)
    )
    # V0 starts as root (it runs the agent as --username through su), under tini.
    assert runtime.rstrip().endswith(
        'CMD ["/openhands/usr/bin/tini", "--", "/openhands/bin/oh-action-execution-server", '
        '"8000", "/workspace"]'
    )
    assert runtime.rindex("USER ") == runtime.index("USER 0:0\nENTRYPOINT []")
    assert 'LABEL dev.oh-builder.server="openhands-v0" dev.oh-builder.capabilities="browser"' in (
        runtime
    )


def test_sample_app_layer_stays_in_app_dir(
    write_config: Callable[..., Path], app_dir: Path, tmp_path: Path
) -> None:
    cfg = load_config(write_config(TWO_BASES))
    files = prepare(cfg, Selection(), build_dir=str(tmp_path / "build")).files
    assert sorted(k for k in files if k.startswith("app/")) == [
        "app/openhands/app/action_server/__init__.py"
    ]
    assert "USER 0:0\n" not in files["runtime.Dockerfile"].data.decode().split("USER 1000:1000")[1]


@pytest.mark.parametrize(
    ("pyproject", "names"),
    [
        (b'[project]\nreadme = "README.md"\n', ["README.md"]),
        (
            b'[project]\nreadme = {file = "docs/R.rst", content-type = "text/x-rst"}\n',
            ["docs/R.rst"],
        ),
        (b'[tool.poetry]\nreadme = ["a.md", "b.md"]\n', ["a.md", "b.md"]),
        (b'[tool.poetry]\nreadme = "../outside.md"\n', []),
        (b'[project]\nname = "x"\n', []),
        (b"not toml [", []),
    ],
)
def test_readme_placeholders(pyproject: bytes, names: list[str]) -> None:
    """`poetry check` needs the declared readme to exist; the deps build gets an empty
    stand-in, so the readme's text never changes the deps image."""
    got = readme_placeholders(pyproject)
    assert sorted(got) == names
    assert all(v == ContextFile(data=b"", executable=False) for v in got.values())


def test_fetched_profile_missing_says_make_profiles(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    cfg = profiles / "v0.toml"
    cfg.write_text(BASE_CONFIG.replace('app = "app"', 'app = "openhands-v0"') + TWO_BASES)
    with pytest.raises(ConfigError, match=r"make profiles"):
        load_config(cfg)
    shutil.rmtree(profiles)
