"""The ``oh-builder`` command line: parse, call the core, print. Exit codes: docs/cli.md."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

from builder.errors import INTERRUPTED_EXIT_CODE, BuilderError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Build relocatable AI-agent sandbox images with docker buildx bake.",
)

P = ParamSpec("P")
R = TypeVar("R")


def command(fn: Callable[P, R]) -> Callable[P, R]:
    """Register a command whose BuilderError becomes one stderr line and its exit code."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except BuilderError as exc:
            from builder.console import error

            error(str(exc))
            raise typer.Exit(exc.exit_code) from None

    app.command()(wrapper)
    return wrapper


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", envvar="OH_BUILDER_CONFIG", help="TOML config (default: builder.toml)."
    ),
]
BaseOpt = Annotated[
    list[str] | None,
    typer.Option("--base", help="Only bases whose image or name matches this glob (repeatable)."),
]
PlatformOpt = Annotated[
    list[str] | None, typer.Option("--platform", help="Only this platform (repeatable).")
]
ShardOpt = Annotated[
    str | None, typer.Option("--shard", help="Build shard I of N of the bases, e.g. 2/4.")
]
OutputOpt = Annotated[
    Path, typer.Option("--output", "-o", help="Directory for the bake file and build context.")
]


def _selection(base: list[str] | None, platform: list[str] | None, shard: str | None):  # type: ignore[no-untyped-def]
    from builder.errors import ConfigError
    from builder.model import KNOWN_PLATFORMS
    from builder.plan import Selection, parse_shard

    for p in platform or ():
        if p not in KNOWN_PLATFORMS:
            raise ConfigError(
                f"--platform {p!r}: unknown platform (known: {', '.join(KNOWN_PLATFORMS)})"
            )
    return Selection(
        bases=tuple(base or ()),
        platforms=tuple(platform or ()),
        shard=parse_shard(shard) if shard else None,
    )


@command
def plan(
    config: ConfigOpt = None,
    base: BaseOpt = None,
    platform: PlatformOpt = None,
    shard: ShardOpt = None,
    output: OutputOpt = Path("build"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
) -> None:
    """Write OUTPUT/docker-bake.hcl, the Dockerfiles and the build context."""
    from builder.config import load_config, resolve_config_path
    from builder.console import out, plan_table
    from builder.prepare import prepare, write_build_dir

    cfg = load_config(resolve_config_path(config))
    prepared = prepare(cfg, _selection(base, platform, shard), build_dir=str(output))
    write_build_dir(output, prepared.files)
    if not quiet:
        out.print(plan_table(prepared.plan, f"{output / 'docker-bake.hcl'}"))


@command
def tags(
    config: ConfigOpt = None,
    base: BaseOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the image references the config produces."""
    from builder.config import load_config, resolve_config_path
    from builder.console import out, plan_table
    from builder.plan import Selection
    from builder.prepare import prepare

    cfg = load_config(resolve_config_path(config))
    prepared = prepare(cfg, Selection(bases=tuple(base or ())))
    p = prepared.plan
    if as_json:
        data = {"deps": p.deps_ref, "runtime": {r.base: r.ref for r in p.runtime}}
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        out.print(plan_table(p, "tags"))


def main() -> None:
    """Entry point: BuilderError -> one line on stderr and its exit code, no traceback."""
    try:
        app()
    except BuilderError as exc:
        from builder.console import error

        error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(INTERRUPTED_EXIT_CODE)
