"""Rendered Dockerfiles and bake file against tests/golden/ (regenerate: make golden)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from builder.config import load_config
from builder.plan import Selection
from builder.prepare import prepare

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CONFIG = GOLDEN / "builder.toml"
FILES = ("docker-bake.hcl", "deps.Dockerfile", "runtime.Dockerfile")


@pytest.mark.parametrize("name", FILES)
def test_golden(name: str) -> None:
    prepared = prepare(load_config(CONFIG), Selection(), build_dir="build")
    text = prepared.files[name].data.decode()
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text(), f"{name} changed; review and run 'make golden'"
