from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from builder.config import load_config
from builder.errors import ConfigError
from tests.conftest import TWO_BASES


def test_issue_example_parses(write_config: Callable[[str], Path]) -> None:
    cfg = load_config(write_config(TWO_BASES))
    assert cfg.build.platforms == ("linux/amd64", "linux/arm64")
    assert [b.name for b in cfg.bases] == ["debian-bookworm", "busybox"]
    assert cfg.bases[0].platforms == ("linux/amd64", "linux/arm64")
    assert cfg.bases[1].platforms == ("linux/amd64",)
    assert cfg.deps.base == "debian:trixie" and cfg.deps.browser is True
    assert cfg.labels == {"org.opencontainers.image.source": "https://example.invalid/repo"}
    with pytest.raises(AttributeError):
        cfg.deps.browser = False  # type: ignore[misc]


def test_repo_default_config_parses() -> None:
    cfg = load_config(Path(__file__).resolve().parents[2] / "builder.toml")
    assert cfg.bases


@pytest.mark.parametrize(
    ("bases", "fragment"),
    [
        ('[[bases]]\nimage = "debian:bookworm"\nimgae = "x"\n', "did you mean 'image'"),
        ('[[bases]]\nimage = "Debian:Bookworm!"\n', "bases[0].image"),
        ('[[bases]]\nimage = "debian:bookworm"\nplatforms = ["linux/amd65"]\n', "linux/amd64"),
        (
            '[[bases]]\nimage = "debian:bookworm"\n[[bases]]\nimage = "debian:bookworm"\n',
            "already listed",
        ),
        (
            '[[bases]]\nimage = "a:1"\nname = "x"\n[[bases]]\nimage = "b:1"\nname = "x"\n',
            "already used",
        ),
        ("", "no bases"),
        ('[[bases]]\nimage = "debian:bookworm"\nname = "bad name"\n', "bases[0].name"),
    ],
)
def test_bad_bases(write_config: Callable[[str], Path], bases: str, fragment: str) -> None:
    path = write_config(bases)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    msg = str(exc.value)
    assert str(path) in msg and fragment in msg
    assert "\n" not in msg
    assert exc.value.exit_code == 2


def test_unknown_top_level_key(write_config: Callable[[str], Path]) -> None:
    head = '[registy]\nx = "y"\n'
    with pytest.raises(ConfigError, match="did you mean 'registry'"):
        load_config(write_config(TWO_BASES, head=head))


def test_missing_app_dir(write_config: Callable[[str], Path], app_dir: Path) -> None:
    path = write_config(TWO_BASES)
    path.write_text(path.read_text().replace('app = "app"', 'app = "nope"'))
    with pytest.raises(ConfigError, match=r"deps\.app: directory .*nope does not exist"):
        load_config(path)


def test_missing_lock(write_config: Callable[[str], Path], app_dir: Path) -> None:
    (app_dir / "poetry.lock").unlink()
    with pytest.raises(ConfigError, match=r"poetry\.lock is missing"):
        load_config(write_config(TWO_BASES))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_bad_registry_and_platform(write_config: Callable[[str], Path]) -> None:
    path = write_config(TWO_BASES)
    text = path.read_text()
    path.write_text(
        text.replace('runtime = "127.0.0.1:5000/openhands/runtime"', 'runtime = "x:y:z"')
    )
    with pytest.raises(ConfigError, match=r"registry\.runtime"):
        load_config(path)
    path.write_text(text.replace('"linux/arm64"]\n\n[registry]', '"windows/amd64"]\n\n[registry]'))
    with pytest.raises(ConfigError, match=r"build\.platforms: unknown platform 'windows/amd64'"):
        load_config(path)


def test_unknown_tool(write_config: Callable[[str], Path]) -> None:
    path = write_config(TWO_BASES)
    path.write_text(path.read_text().replace("browser = true", 'browser = true\ntools = ["tmx"]'))
    with pytest.raises(ConfigError, match="did you mean 'tmux'"):
        load_config(path)


def test_default_config_is_the_agent_server() -> None:
    """builder.toml (what `make bake` builds) bakes OpenHands V1's agent-server."""
    cfg = load_config(Path(__file__).resolve().parents[2] / "builder.toml")
    assert cfg.deps.server == "agent-server"
    assert cfg.deps.entrypoint == "openhands.agent_server"  # the server's default
    assert cfg.deps.app.name == "agent-server" and cfg.registry.cache.endswith("server-cache")


def test_unknown_server(write_config: Callable[[str], Path]) -> None:
    path = write_config(TWO_BASES)
    path.write_text(path.read_text().replace("browser = true", 'browser = true\nserver = "v2"'))
    with pytest.raises(
        ConfigError,
        match=r"deps\.server: unknown server kind 'v2' "
        r"\(known: agent-server, openhands-v0, action-server\)",
    ):
        load_config(path)


def test_label_not_nfc(write_config: Callable[[str], Path]) -> None:
    """HCL normalizes strings to NFC: a label buildx would change is refused up front."""
    path = write_config(TWO_BASES)
    path.write_text(path.read_text().replace("[labels]\n", '[labels]\n"\uf900" = "x"\n'))
    with pytest.raises(ConfigError, match=r"labels.* not in Unicode NFC form"):
        load_config(path)


def test_invalid_toml(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text("[build\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(p)
