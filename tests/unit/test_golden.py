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


INSTRUCTIONS = {
    "FROM",
    "RUN",
    "COPY",
    "ARG",
    "ENV",
    "USER",
    "WORKDIR",
    "EXPOSE",
    "ENTRYPOINT",
    "CMD",
    "LABEL",
}


@pytest.mark.parametrize(
    ("name", "stages"),
    [
        (
            "deps.Dockerfile",
            [
                "host",
                "requirements",
                "python-debs",
                "system",
                "wheels",
                "venv",
                "browser",
                "check-system",
                "check-venv",
                "check-browser",
                "deps",
            ],
        ),
        ("runtime.Dockerfile", [""]),
    ],
)
def test_dockerfile_instructions(name: str, stages: list[str]) -> None:
    """Every logical line is an instruction (a template's whitespace control cannot glue
    one onto a comment), and the stages are the documented ones, in order."""
    prepared = prepare(load_config(CONFIG), Selection(), build_dir="build")
    logical, current = [], ""
    for line in prepared.files[name].data.decode().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip("\\") + " "
        if not line.endswith("\\"):
            logical.append(current.split())
            current = ""
    assert not current
    assert {words[0] for words in logical} <= INSTRUCTIONS
    found = [w[-1] if "AS" in w else "" for w in logical if w[0] == "FROM"]
    assert found == stages
