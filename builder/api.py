"""Python API: the same planning (and, with dry_run=False, the same bake) as the CLI."""

from __future__ import annotations

from pathlib import Path

from builder.model import Config
from builder.plan import Selection
from builder.prepare import prepare


def build_dependencies_image(
    config: Config,
    *,
    platforms: tuple[str, ...] = (),
    dry_run: bool = False,
    output: Path = Path("build"),
) -> str:
    """Build and push the deps image; return its reference."""
    prepared = prepare(config, Selection(platforms=platforms), build_dir=str(output))
    if not dry_run:
        from builder.run import run_bake

        run_bake(prepared, output=output, targets=[prepared.plan.deps[0].name], push=True)
    return prepared.plan.deps_ref


def build_runtime_image(
    base_image: str,
    config: Config,
    *,
    platforms: tuple[str, ...] = (),
    dry_run: bool = False,
    output: Path = Path("build"),
) -> str:
    """Build and push the runtime image for ``base_image`` (a [[bases]] image); return its ref."""
    from builder.errors import ConfigError

    if not any(b.image == base_image for b in config.bases):
        raise ConfigError(f"{config.path}: {base_image!r} is not one of the [[bases]] images")
    prepared = prepare(
        config, Selection(bases=(base_image,), platforms=platforms), build_dir=str(output)
    )
    target = next(r for r in prepared.plan.runtime if r.base == base_image)
    if not dry_run:
        from builder.run import run_bake

        run_bake(prepared, output=output, targets=[target.name], push=True)
    return target.ref
