"""Each bundle layer's key covers that layer's inputs and nothing else: the runtime
Dockerfile names the key in the layer's COPY, so a change reaches exactly its layer.
The keys are read off the rendered deps Dockerfile (builder/layers.py), so these cases
go through the real template."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from builder import layers
from builder.config import load_config
from builder.model import Config
from builder.outdir import ContextFile
from builder.prepare import keyed_context
from builder.render import render_dockerfile

CONFIG = Path(__file__).resolve().parents[1] / "golden" / "builder.toml"
LOCK = {
    "pyproject.toml": ContextFile(data=b"[project]\n", executable=False),
    "poetry.lock": ContextFile(data=b'version = "3.10"\n', executable=False),
}
WRAPPERS = {
    "share/setup.sh": ContextFile(data=b"set -eu\n", executable=False),
    "bin/oh-tmux": ContextFile(data=b"exec tmux\n", executable=True),
    "browser/bin/oh-chromium": ContextFile(data=b"exec chromium\n", executable=True),
}
TOOLS = {
    name: ContextFile(data=f"# {name}\n".encode(), executable=False)
    for name in ("debs.py", "collect.py", "elfinfo.py", "relocate.py", "wheels.py",
                 "finish.py", "check.py")
}  # fmt: skip
BASE = "debian:trixie@sha256:" + "0" * 64


def keys(config: Config, base: str = BASE, **files: dict[str, ContextFile]) -> dict[str, str]:
    ctx = keyed_context(
        config,
        base,
        files.get("lock", LOCK),
        files.get("wrappers", WRAPPERS),
        files.get("tools", TOOLS),
        "-",
    )
    return {k.removesuffix("_key"): str(v) for k, v in ctx.items() if k.endswith("_key")}


def changed(**edits: object) -> set[str]:
    config = load_config(CONFIG)
    lock, wrappers, tools = dict(LOCK), dict(WRAPPERS), dict(TOOLS)
    base = BASE
    for what, value in edits.items():
        data = ContextFile(data=str(value).encode(), executable=False)
        if what == "lock":
            lock["poetry.lock"] = data
        elif what == "setup":
            wrappers["share/setup.sh"] = data
        elif what == "chromium_wrapper":
            wrappers["browser/bin/oh-chromium"] = data
        elif what in TOOLS:
            tools[what] = data
        elif what == "base":
            base = str(value)
        elif what == "tools":
            config = dataclasses.replace(
                config, deps=dataclasses.replace(config.deps, tools=("tmux", "git"))
            )
    before = keys(load_config(CONFIG))
    after = keys(config, base, lock=lock, wrappers=wrappers, tools=tools)
    assert before.keys() == after.keys() == {"system", "venv", "browser", "setup"}
    return {k for k in before if before[k] != after[k]}


def test_a_lock_change_keys_the_venv_alone() -> None:
    assert changed(lock='version = "3.20"\n') == {"venv"}


def test_a_tool_list_change_keys_the_system_alone() -> None:
    assert changed(tools=None) == {"system"}
    assert changed(**{"collect.py": "# other\n"}) == {"system", "browser"}
    assert changed(**{"finish.py": "# other\n"}) == {"system"}


def test_a_browser_change_keys_the_browser_alone() -> None:
    assert changed(chromium_wrapper="exec chromium --other\n") == {"browser"}


def test_a_moved_deps_base_keys_every_layer() -> None:
    assert changed(base="debian:trixie@sha256:" + "1" * 64) == {
        "setup", "system", "venv", "browser"
    }  # fmt: skip


def test_setup_and_venv_tools() -> None:
    assert changed(setup="set -e\n") == {"setup", "system"}
    assert changed(**{"wheels.py": "# other\n"}) == {"system", "venv"}
    assert changed(**{"relocate.py": "# other\n"}) == {"system", "venv", "browser"}


def test_the_check_stage_keys_no_layer() -> None:
    assert changed(**{"check.py": "# other\n"}) == set()


def test_same_inputs_same_keys() -> None:
    assert changed() == set()


def test_a_capability_left_out_has_no_layer_and_shares_the_system_layer() -> None:
    config = load_config(CONFIG)
    without = dataclasses.replace(config, deps=dataclasses.replace(config.deps, capabilities=()))
    a, b = keys(config), keys(without)
    assert "browser" not in b and a["system"] == b["system"] and a["setup"] == b["setup"]


@pytest.mark.parametrize("layer", ["system", "venv", "browser"])
def test_each_layer_stage_is_in_the_template(layer: str) -> None:
    """The table of layers names stages the template has (a renamed stage would leave a
    layer without a key, which the runtime template then fails to render)."""
    ctx = keyed_context(load_config(CONFIG), BASE, LOCK, WRAPPERS, TOOLS, "-")
    text = render_dockerfile("deps", **ctx)
    assert layers.LAYERS[layer][0] in layers.stages(text)
    assert f"/oh-layers/{layer}-{ctx[f'{layer}_key']}" in text
