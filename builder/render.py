"""Jinja2 rendering of the Dockerfiles and the bake file (StrictUndefined everywhere)."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

from builder.hcl import hcl_list, hcl_map, hcl_string
from builder.resources import resource_dir


@cache
def _env(kind: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir(kind))),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["hcl"] = hcl_string
    env.filters["hcl_list"] = hcl_list
    env.filters["hcl_map"] = hcl_map
    return env


def render_dockerfile(name: str, **context: Any) -> str:
    """Render ``dockerfiles/<name>.Dockerfile.j2``."""
    return _env("dockerfiles").get_template(f"{name}.Dockerfile.j2").render(**context)


def render_bake(**context: Any) -> str:
    return _env("bake").get_template("docker-bake.hcl.j2").render(**context)
