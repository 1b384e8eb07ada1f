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
    selection = Selection(platforms=platforms)
    if dry_run:
        return prepare(config, selection, build_dir=str(output)).plan.deps_ref
    from builder.run import resolve_builder, run_bake

    info = resolve_builder(config.build.builder)
    prepared = prepare(config, selection, build_dir=str(output), cache_flavor=info.cache_flavor)
    run_bake(prepared, output=output, targets=[prepared.plan.deps[0].name], builder=info, push=True)
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
    selection = Selection(bases=(base_image,), platforms=platforms)
    if dry_run:
        prepared = prepare(config, selection, build_dir=str(output))
        return next(r for r in prepared.plan.runtime if r.base == base_image).ref
    from builder.run import resolve_builder, run_bake

    info = resolve_builder(config.build.builder)
    prepared = prepare(config, selection, build_dir=str(output), cache_flavor=info.cache_flavor)
    target = next(r for r in prepared.plan.runtime if r.base == base_image)
    run_bake(prepared, output=output, targets=[target.name], builder=info, push=True)
    return target.ref
