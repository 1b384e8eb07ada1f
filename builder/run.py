"""Execute a prepared plan with docker buildx bake."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from builder import engine
from builder.prepare import Prepared, write_build_dir


def run_bake(
    prepared: Prepared,
    *,
    output: Path,
    targets: Sequence[str] = (),
    push: bool = False,
    load: bool = False,
    no_cache: bool = False,
    metadata_file: Path | None = None,
    progress: str = "auto",
) -> None:
    engine.check_engine()
    write_build_dir(output, prepared.files)
    engine.bake(
        output / "docker-bake.hcl",
        targets or ["default"],
        push=push,
        load=load,
        no_cache=no_cache,
        metadata_file=metadata_file,
        progress=progress,
    )
