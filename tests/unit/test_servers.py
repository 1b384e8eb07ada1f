"""Server kinds and capabilities as data (builder/servers.py, builder/capabilities.py):
what the config accepts, what the runtime template renders from each kind, and how
`verify` tells an image's kind from its labels."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from builder.capabilities import CAPABILITIES
from builder.config import load_config
from builder.errors import ConfigError, VerifyError
from builder.plan import Selection
from builder.prepare import prepare
from builder.servers import CAPABILITIES_LABEL, KINDS, SERVER_LABEL, Launch
from builder.verify import every_check, image_kind
from tests.conftest import BASE_CONFIG, TWO_BASES


def config_with(write_config: Callable[..., Path], deps_lines: str) -> Path:
    head = BASE_CONFIG.replace("browser = true\n", deps_lines)
    return write_config(TWO_BASES, head=head)


@pytest.mark.parametrize("kind", list(KINDS))
def test_runtime_dockerfile_starts_each_kind_from_its_data(
    write_config: Callable[..., Path], app_dir: Path, tmp_path: Path, kind: str
) -> None:
    k = KINDS[kind]
    (app_dir / k.entrypoint.split(".")[0]).mkdir(exist_ok=True)  # an entrypoint in the app
    cfg = load_config(config_with(write_config, f'server = "{kind}"\n'))
    runtime = prepare(cfg, Selection(), build_dir=str(tmp_path / "b")).files["runtime.Dockerfile"]
    text = runtime.data.decode()
    tail = text[text.rindex("\nUSER ") + 1 :].splitlines()
    assert tail == [
        f"USER {k.user}",
        f"ENTRYPOINT {json.dumps(list(k.image_entrypoint))}",
        f"CMD {json.dumps(list(k.image_command))}",
    ]
    assert f'LABEL {SERVER_LABEL}="{kind}" {CAPABILITIES_LABEL}="browser"' in text
    setup = re.search(r'\["/oh-setup/busybox", "sh", "/oh-setup/setup.sh"(.*)\]', text)
    assert setup and json.loads(f"[{setup.group(1).lstrip(', ')}]") == list(k.state_dirs)
    for name, value in k.env:
        assert f"{name}={value}" in text


def test_capabilities_key(write_config: Callable[..., Path], tmp_path: Path) -> None:
    cfg = load_config(config_with(write_config, "capabilities = []\n"))
    assert cfg.deps.capabilities == () and not cfg.deps.browser
    text = prepare(cfg, Selection(), build_dir=str(tmp_path / "b")).files["deps.Dockerfile"]
    assert "chromium" not in text.data.decode().split("collect.py", 1)[1].split("\n", 1)[0]
    cfg = load_config(config_with(write_config, 'capabilities = ["browser", "browser"]\n'))
    assert cfg.deps.capabilities == ("browser",)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            'capabilities = ["browsr"]\n',
            r"deps\.capabilities: unknown capability 'browsr'; did you mean 'browser'\? "
            rf"\(known: {', '.join(CAPABILITIES)}\)",
        ),
        ('capabilities = "browser"\n', r"deps\.capabilities: must be a list"),
        (
            'capabilities = []\nserver = "openhands-v0"\n',
            r"deps\.capabilities: server 'openhands-v0' requires the 'browser' capability, "
            r"which the profile leaves out; add 'browser' to deps\.capabilities",
        ),
        ("capabilities = []\nbrowser = false\n", r"deps\.browser: give deps\.capabilities or"),
        ('server = "agent-servr"\n', r"did you mean 'agent-server'\?"),
    ],
)
def test_bad_capabilities_and_kinds(
    write_config: Callable[..., Path], lines: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        load_config(config_with(write_config, lines))
    assert "\n" not in str(err.value) and "builder.toml" in str(err.value)


def test_every_kind_names_a_client_with_checks() -> None:
    checks = every_check()
    assert checks[0] == "alive" and {"ready", "auth", "browser", "environment"} <= set(checks)
    assert len(checks) == len(set(checks))


def test_launch_options_carry_the_key() -> None:
    v1 = KINDS["agent-server"].launch.options("k3y")
    assert v1["command"] == ["--port", "8000"] and v1["env"]["OH_SESSION_API_KEYS_0"] == "k3y"
    assert Launch().options("k") == {"env": {}}


def test_verify_reads_the_kind_from_labels() -> None:
    assert image_kind("x", {SERVER_LABEL: "openhands-v0"}) is KINDS["openhands-v0"]
    with pytest.raises(VerifyError, match=rf"x: no {SERVER_LABEL} label.*oh-builder bake"):
        image_kind("x", {})
    with pytest.raises(VerifyError, match=r"names no server kind this oh-builder knows"):
        image_kind("x", {SERVER_LABEL: "v9"})


DOCS = Path(__file__).resolve().parents[2] / "docs" / "config.md"


def kinds_rows() -> list[str]:
    def code(x: object) -> str:
        return f"`{x}`"

    rows = []
    for k in KINDS.values():
        launch = " ".join(k.launch.command) or "its CMD"
        env = ", ".join(f"{n}={v}" for n, v in k.launch.env)
        rows.append(
            f"| `{k.name}` | {k.summary} | {k.user} | {code(json.dumps(list(k.image_entrypoint)))} "
            f"| {code(json.dumps(list(k.image_command)))} | `/openhands/{k.app_dir}` "
            f"| {', '.join(k.state_dirs)} | `{k.health}`, {code(k.ready) if k.ready else '-'} "
            f"| {launch}{'; ' + env if env else ''}"
            f"{'; workdir ' + k.launch.workdir if k.launch.workdir else ''} "
            f"| {', '.join(sorted(k.requires)) or '-'} |"
        )
    return rows


def capability_rows() -> list[str]:
    return [
        f"| `{c.name}` | {c.summary} | {', '.join(c.packages)} |" for c in CAPABILITIES.values()
    ]


@pytest.mark.parametrize(
    ("block", "rows"), [("server-kinds", kinds_rows), ("capabilities", capability_rows)]
)
def test_docs_tables_are_the_data(block: str, rows: Callable[[], list[str]]) -> None:
    """docs/config.md's tables of kinds and capabilities are made from the data
    (`make golden` rewrites them)."""
    text = DOCS.read_text()
    start, end = f"<!-- {block}:start -->\n", f"<!-- {block}:end -->"
    head, rest = text.split(start, 1)
    table, tail = rest.split(end, 1)
    header = table.splitlines()[:2]
    want = "\n".join([*header, *rows()]) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        DOCS.write_text(head + start + want + end + tail)
        table = want
    assert table == want, f"docs/config.md's {block} table is not the data: run 'make golden'"
