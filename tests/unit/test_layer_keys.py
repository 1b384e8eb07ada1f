"""Each bundle layer's key covers that layer's inputs and nothing else: the runtime
Dockerfile names the key in the layer's COPY, so a change reaches exactly its layer."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from builder.config import load_config
from builder.outdir import ContextFile
from builder.prepare import layer_keys

CONFIG = Path(__file__).resolve().parents[1] / "golden" / "builder.toml"
LOCK = {
    "pyproject.toml": ContextFile(data=b"[project]\n", executable=False),
    "poetry.lock": ContextFile(data=b'version = "3.10"\n', executable=False),
}
WRAPPERS = {
    "share/setup.sh": ContextFile(data=b"set -eu\n", executable=False),
    "bin/oh-tmux": ContextFile(data=b"exec tmux\n", executable=True),
}
TOOLS = {
    "wheels.py": ContextFile(data=b"# wheels\n", executable=False),
    "collect.py": ContextFile(data=b"# collect\n", executable=False),
}


BASE = "debian:trixie@sha256:" + "0" * 64


def changed(**edits: object) -> set[str]:
    config = load_config(CONFIG)
    lock, wrappers, tools = dict(LOCK), dict(WRAPPERS), dict(TOOLS)
    base = BASE
    for what, value in edits.items():
        if what == "lock":
            lock["poetry.lock"] = ContextFile(data=str(value).encode(), executable=False)
        elif what == "setup":
            wrappers["share/setup.sh"] = ContextFile(data=str(value).encode(), executable=False)
        elif what in TOOLS:
            tools[what] = ContextFile(data=str(value).encode(), executable=False)
        elif what == "base":
            base = str(value)
        elif what == "tools":
            config = dataclasses.replace(
                config, deps=dataclasses.replace(config.deps, tools=("tmux", "git"))
            )
    before = layer_keys(load_config(CONFIG), BASE, LOCK, WRAPPERS, TOOLS)
    after = layer_keys(config, base, lock, wrappers, tools)
    return {k.removesuffix("_key") for k in before if before[k] != after[k]}


def test_a_lock_change_keys_the_venv_alone() -> None:
    assert changed(lock='version = "3.20"\n') == {"venv"}


def test_a_tool_list_change_keys_the_system_alone() -> None:
    assert changed(tools=None) == {"system"}
    assert changed(**{"collect.py": "# other\n"}) == {"system"}


def test_a_moved_deps_base_keys_every_layer() -> None:
    assert changed(base="debian:trixie@sha256:" + "1" * 64) == {"setup", "system", "venv"}


def test_setup_and_venv_tools() -> None:
    assert changed(setup="set -e\n") == {"setup", "system"}
    assert changed(**{"wheels.py": "# other\n"}) == {"system", "venv"}


def test_same_inputs_same_keys() -> None:
    assert changed() == set()
