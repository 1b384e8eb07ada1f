"""The ``oh-builder`` command line: parse, call the core, print. Exit codes: docs/cli.md."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer

from builder.errors import INTERRUPTED_EXIT_CODE, BuilderError

if TYPE_CHECKING:
    from builder.plan import Selection
    from builder.registry import Client as Registry

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
        except KeyboardInterrupt:
            from builder.console import error

            error("interrupted; targets that had not finished pushed no tag")
            raise typer.Exit(INTERRUPTED_EXIT_CODE) from None

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
BuilderOpt = Annotated[
    str | None,
    typer.Option(
        "--builder",
        envvar="BUILDX_BUILDER",
        help="buildx builder to build on (default: [build] builder, else buildx's current one).",
    ),
]
OutputOpt = Annotated[
    Path, typer.Option("--output", "-o", help="Directory for the bake file and build context.")
]


def _selection(base: list[str] | None, platform: list[str] | None, shard: str | None) -> Selection:
    from builder.errors import ConfigError
    from builder.model import KNOWN_PLATFORMS, normalize_platforms
    from builder.plan import Selection, parse_shard

    for p in platform or ():
        if p not in KNOWN_PLATFORMS:
            raise ConfigError(
                f"--platform {p!r}: unknown platform (known: {', '.join(KNOWN_PLATFORMS)})"
            )
    return Selection(
        bases=tuple(base or ()),
        platforms=normalize_platforms(platform or ()),
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
    builder: BuilderOpt = None,
) -> None:
    """Write OUTPUT/docker-bake.hcl, the Dockerfiles and the build context.

    The file is the same for every builder but for the registry cache tags: a builder of
    the docker driver gets its own (docs/cli.md); without --builder (or [build] builder)
    nothing is inspected and the tags are a BuildKit daemon's."""
    from builder.config import load_config, resolve_config_path
    from builder.console import print_plan
    from builder.outdir import output_lock, write_build_dir
    from builder.prepare import prepare

    cfg = load_config(resolve_config_path(config))
    selection = _selection(base, platform, shard)
    flavor = ""
    if builder or cfg.build.builder:
        from builder.run import resolve_builder

        flavor = resolve_builder(builder or cfg.build.builder).cache_flavor
    prepared = prepare(cfg, selection, build_dir=str(output), cache_flavor=flavor)
    with output_lock(output):
        write_build_dir(output, prepared.files)
    if not quiet:
        print_plan(prepared.plan, f"{output / 'docker-bake.hcl'}")


@command
def tags(
    config: ConfigOpt = None,
    base: BaseOpt = None,
    platform: PlatformOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the image references the config produces."""
    from builder.config import load_config, resolve_config_path
    from builder.console import print_plan
    from builder.prepare import prepare

    cfg = load_config(resolve_config_path(config))
    prepared = prepare(cfg, _selection(base, platform, None))
    p = prepared.plan
    if as_json:
        data = {"deps": p.deps_ref, "runtime": {r.base: r.ref for r in p.runtime}}
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        print_plan(p, "tags")


PushOpt = Annotated[bool, typer.Option("--push", help="Push images to the registry.")]
LoadOpt = Annotated[
    bool, typer.Option("--load", help="Load single-platform images into the local image store.")
]
ProgressOpt = Annotated[
    str,
    typer.Option(
        "--progress",
        help="auto (a live table in a terminal, else plain), plain (buildx's log) or quiet.",
    ),
]


def _run(
    config: Path | None,
    selection_args: tuple[list[str] | None, list[str] | None, str | None],
    output: Path,
    targets: Callable[..., list[str]],
    *,
    push: bool,
    load: bool,
    no_cache: bool = False,
    force: bool = False,
    metadata_file: Path | None = None,
    progress: str = "auto",
    cache_branch: str | None = None,
    cache_export: bool = True,
    builder: str | None = None,
) -> None:
    from builder.branch import cache_branch as detect_branch
    from builder.config import load_config, resolve_config_path
    from builder.console import print_plan, print_summary
    from builder.errors import BuildError, ConfigError
    from builder.prepare import prepare
    from builder.run import Interrupted, resolve_builder, run_bake

    if push and load:
        raise ConfigError("--push and --load exclude each other")
    if progress not in ("auto", "plain", "quiet"):
        raise ConfigError(f"--progress {progress!r}: use auto, plain or quiet")
    cfg = load_config(resolve_config_path(config))
    selection = _selection(*selection_args)
    info = resolve_builder(builder or cfg.build.builder)
    prepared = prepare(
        cfg,
        selection,
        build_dir=str(output),
        cache_branch=detect_branch(cache_branch),
        cache_export=cache_export,
        cache_flavor=info.cache_flavor,
    )

    def announce(name: str) -> None:
        if progress != "quiet":
            title = f"building on {name} (cache branch {prepared.plan.cache_branch})"
            print_plan(prepared.plan, title)

    try:
        results = run_bake(
            prepared,
            output=output,
            targets=targets(prepared.plan),
            builder=info,
            push=push,
            load=load,
            no_cache=no_cache,
            force=force,
            metadata_file=metadata_file,
            progress=progress,
            announce=announce,
        )
    except (BuildError, Interrupted) as exc:
        if isinstance(exc.results, list):
            print_summary(exc.results)
        raise
    print_summary(results)


CacheBranchOpt = Annotated[
    str | None,
    typer.Option(
        "--cache-branch",
        help="Registry cache branch (default: CI branch variable, git branch, else main).",
    ),
]
NoCacheExportOpt = Annotated[
    bool, typer.Option("--no-cache-export", help="Read the registry cache, never write it.")
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Rebuild targets whose tag already exists.")
]


@command
def bake(
    config: ConfigOpt = None,
    base: BaseOpt = None,
    platform: PlatformOpt = None,
    shard: ShardOpt = None,
    output: OutputOpt = Path("build"),
    push: PushOpt = False,
    load: LoadOpt = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ignore all caches.")] = False,
    metadata_file: Annotated[
        Path | None, typer.Option("--metadata-file", help="Write buildx metadata JSON here.")
    ] = None,
    progress: ProgressOpt = "auto",
    force: ForceOpt = False,
    cache_branch: CacheBranchOpt = None,
    no_cache_export: NoCacheExportOpt = False,
    builder: BuilderOpt = None,
) -> None:
    """Plan, then build the deps image and the runtime matrix with docker buildx bake."""
    _run(
        config,
        (base, platform, shard),
        output,
        lambda plan: [plan.deps[0].name, *(r.name for r in plan.runtime)],
        push=push,
        load=load,
        no_cache=no_cache,
        metadata_file=metadata_file,
        progress=progress,
        force=force,
        cache_branch=cache_branch,
        cache_export=not no_cache_export,
        builder=builder,
    )


@command
def deps(
    config: ConfigOpt = None,
    platform: PlatformOpt = None,
    output: OutputOpt = Path("build"),
    push: Annotated[bool, typer.Option("--push/--no-push", help="Push the image.")] = True,
    progress: ProgressOpt = "auto",
    force: ForceOpt = False,
    cache_branch: CacheBranchOpt = None,
    no_cache_export: NoCacheExportOpt = False,
    builder: BuilderOpt = None,
) -> None:
    """Build (and push) only the deps image."""
    _run(
        config,
        (None, platform, None),
        output,
        lambda plan: [plan.deps[0].name],
        push=push,
        load=False,
        progress=progress,
        force=force,
        cache_branch=cache_branch,
        cache_export=not no_cache_export,
        builder=builder,
    )


@command
def runtime(
    base_image: Annotated[
        str, typer.Argument(help="An image or name from the config's bases list.")
    ],
    config: ConfigOpt = None,
    platform: PlatformOpt = None,
    output: OutputOpt = Path("build"),
    push: PushOpt = False,
    load: LoadOpt = False,
    progress: ProgressOpt = "auto",
    force: ForceOpt = False,
    cache_branch: CacheBranchOpt = None,
    builder: BuilderOpt = None,
) -> None:
    """Build one runtime image (its deps come from the cache or are built first)."""
    _run(
        config,
        ([base_image], platform, None),
        output,
        lambda plan: [r.name for r in plan.runtime],
        push=push,
        load=load,
        progress=progress,
        force=force,
        cache_branch=cache_branch,
        builder=builder,
    )


def _registry_client() -> Registry:
    """A registry client with the daemon's mirrors and insecure registries."""
    from builder import engine
    from builder.registry import Client

    mirrors, cidrs, hosts = engine.registry_settings()
    return Client(mirrors=mirrors, insecure_cidrs=cidrs, insecure_hosts=hosts)


@command
def lock(
    config: ConfigOpt = None,
    update: Annotated[
        bool, typer.Option("--update", help="Resolve again bases already in the lock.")
    ] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="Change nothing; exit 7 if a base moved or is missing."),
    ] = False,
    base: Annotated[
        list[str] | None,
        typer.Option("--base", help="With --update/--check: only images matching this glob."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
) -> None:
    """Record the digest of every base image (and deps.base) in the config's lock file.

    Without --update only missing entries are resolved; entries of images no longer in
    the config are dropped."""
    import time

    from builder.config import load_config, resolve_config_path
    from builder.console import out
    from builder.errors import ConfigError, StaleLockError
    from builder.lockfile import (
        LockEntry,
        lock_path,
        locked_images,
        read_lock,
        render_lock,
        resolve_all,
        select,
        write_lock,
    )
    from builder.registry import NotFound

    if update and check:
        raise ConfigError("--update and --check exclude each other")
    cfg = load_config(resolve_config_path(config))
    path = lock_path(cfg.path)
    current = read_lock(path)
    images = locked_images(cfg)
    chosen = select(images, base or ())
    if base and not chosen:
        raise ConfigError(f"{cfg.path}: no base image matches --base {' '.join(base)}")
    todo = chosen if (update or check) else [i for i in images if i not in current.entries]
    client = _registry_client()

    def resolve(image: str) -> LockEntry:
        try:
            return client.resolve(image)
        except NotFound:
            from builder.errors import EngineError

            raise EngineError(
                f"{image}: not found in its registry; check the reference in {cfg.path}"
            ) from None

    start = time.monotonic()
    resolved = resolve_all(todo, resolve)
    seconds = time.monotonic() - start
    if check:
        moved = [i for i in todo if i in current.entries and current.entries[i] != resolved[i]]
        missing = [i for i in todo if i not in current.entries]
        if moved or missing:
            parts = [f"moved: {', '.join(moved)}" if moved else ""]
            parts.append(f"not in the lock: {', '.join(missing)}" if missing else "")
            raise StaleLockError(
                f"{path}: {'; '.join(p for p in parts if p)}; "
                f"run `oh-builder lock --update -c {cfg.path}` and review the change"
            )
        if not quiet:
            out.print(f"{path}: {len(todo)} image(s) unchanged ({seconds:.1f} s)")
        return
    entries = {i: current.entries[i] for i in images if i in current.entries}
    changed = [i for i in todo if entries.get(i) != resolved[i]]
    entries.update(resolved)
    dropped = sorted(set(current.entries) - set(images))
    text = render_lock(cfg.path.name, entries)
    if not current.exists or path.read_text(encoding="utf-8") != text:
        write_lock(path, text)
    if not quiet:
        out.print(
            f"{path}: {len(images)} image(s), {len(todo)} resolved in {seconds:.1f} s, "
            f"{len(changed)} changed" + (f", {len(dropped)} dropped" if dropped else "")
        )
        for i in changed:
            out.print(f"  {i}: {resolved[i].digest}", soft_wrap=True)


@command
def merge(
    metadata: Annotated[
        list[Path],
        typer.Argument(help="Metadata files of per-platform bakes (bake --metadata-file)."),
    ],
    config: ConfigOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be merged; push nothing.")
    ] = False,
    builder: BuilderOpt = None,
) -> None:
    """Push the multi-platform tags from per-platform runs' metadata, by digest.

    Each run baked one platform (`bake --push --platform P --metadata-file F`, any
    number of shards, any runners); every target they name gets the tag a
    multi-platform bake of the config pushes, an index of those images (docs/ci.md)."""
    from builder import engine
    from builder.config import load_config, resolve_config_path
    from builder.console import out
    from builder.errors import EngineError
    from builder.merge import plan_merge, read_metadata
    from builder.plan import Selection
    from builder.prepare import prepare
    from builder.registry import Client, NotFound

    cfg = load_config(resolve_config_path(config))
    read = [(p, read_metadata(p)) for p in metadata]
    merges = plan_merge(
        lambda platforms: prepare(cfg, Selection(platforms=platforms)).plan, read, cfg.path
    )
    client = Client() if dry_run else _registry_client()

    def digest_of(ref: str) -> str:
        try:
            return client.resolve(ref).digest
        except NotFound:
            raise EngineError(
                f"{ref}: not in its registry although a run reported it pushed; bake that "
                "platform again, then merge"
            ) from None

    for m in merges:
        platforms = ", ".join(m.platforms)
        if not m.needed:
            out.print(f"{m.target}: {m.ref} ({platforms}) as pushed, one platform")
            continue
        sources = [p.by_digest("" if dry_run or p.digest else digest_of(p.ref)) for p in m.parts]
        if dry_run:
            out.print(f"{m.target}: {m.ref} ({platforms}) <- {' '.join(sources)}")
            continue
        engine.create_index(m.ref, sources, builder=builder)
        out.print(f"{m.target}: {m.ref} ({platforms}) {digest_of(m.ref)}")


@command
def verify(
    image: Annotated[str, typer.Argument(help="A runtime image reference.")],
    platform: Annotated[str | None, typer.Option("--platform", help="e.g. linux/arm64")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    alive_timeout: Annotated[
        float, typer.Option("--alive-timeout", help="Seconds to wait for /alive.")
    ] = 60.0,
    skip: Annotated[
        list[str] | None,
        typer.Option("--skip", help="Skip a check (repeatable), e.g. browser under emulation."),
    ] = None,
) -> None:
    """Start a runtime image and check it through its server's API (the sample action
    server, OpenHands V1's agent-server or V0's action execution server, each started
    as OpenHands starts it)."""
    from dataclasses import asdict

    from rich.table import Table

    from builder.console import out
    from builder.errors import ConfigError
    from builder.verify import every_check, raise_on_failure
    from builder.verify import verify as run_verify

    known = [c for c in every_check() if c not in ("alive", "ready")]
    for s in skip or ():
        if s not in known:
            raise ConfigError(f"--skip {s!r}: not a check (checks: {', '.join(known)})")
    results = run_verify(
        image, platform=platform, alive_timeout=alive_timeout, skip=frozenset(skip or ())
    )
    if as_json:
        data = {
            "image": image,
            "platform": platform,
            "ok": all(r.ok for r in results),
            "checks": [asdict(r) for r in results],
        }
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        table = Table(title=f"verify {image}", title_justify="left")
        for col in ("check", "result", "time", "detail"):
            table.add_column(col, overflow="fold")
        for r in results:
            table.add_row(
                r.name, "[green]pass[/]" if r.ok else "[red]FAIL[/]", f"{r.seconds:.2f} s", r.detail
            )
        out.print(table)
    raise_on_failure(image, results)


@command
def doctor(config: ConfigOpt = None, builder: BuilderOpt = None) -> None:
    """Check the docker client, daemon, buildx, the builder (driver, nodes, platforms,
    BuildKit version and what follows from them), emulation and registries."""
    from rich.table import Table

    from builder import engine
    from builder.config import load_config, resolve_config_path
    from builder.console import show
    from builder.errors import EngineError

    path = resolve_config_path(config)
    registries: list[str] = []
    if path.exists():
        cfg = load_config(path)
        reg = cfg.registry
        registries = [reg.runtime, reg.deps, reg.cache]
        builder = builder or cfg.build.builder
    rows = engine.doctor(registries, builder)
    table = Table(title="doctor", title_justify="left")
    for col in ("check", "result", "detail"):
        table.add_column(col, overflow="fold")
    for name, ok, detail in rows:
        table.add_row(name, "[green]ok[/]" if ok else "[red]missing[/]", detail)
    lines = [f"{'ok' if ok else 'MISSING'}  {name}: {detail}" for name, ok, detail in rows]
    show(table, ["doctor:", *(f"  {line}" for line in lines)])
    bad = [name for name, ok, _ in rows if not ok]
    if bad:
        raise EngineError(f"not ready: {', '.join(bad)} (see the table above)")


@command
def warm(
    config: ConfigOpt = None,
    base: BaseOpt = None,
    platform: PlatformOpt = None,
    shard: ShardOpt = None,
    output: OutputOpt = Path("build"),
    cache_branch: CacheBranchOpt = None,
    progress: ProgressOpt = "quiet",
    builder: BuilderOpt = None,
) -> None:
    """Import the registry cache and the base images into the builder's own cache; push
    nothing and load nothing into the local image store."""
    import time

    from builder.branch import cache_branch as detect_branch
    from builder.config import load_config, resolve_config_path
    from builder.console import out
    from builder.errors import ConfigError
    from builder.prepare import prepare
    from builder.run import resolve_builder, run_bake

    if progress not in ("auto", "plain", "quiet"):
        raise ConfigError(f"--progress {progress!r}: use auto, plain or quiet")
    cfg = load_config(resolve_config_path(config))
    selection = _selection(base, platform, shard)
    info = resolve_builder(builder or cfg.build.builder)
    prepared = prepare(
        cfg,
        selection,
        build_dir=str(output),
        cache_branch=detect_branch(cache_branch),
        cache_export=False,
        cache_flavor=info.cache_flavor,
    )
    names = [d.name for d in prepared.plan.deps] + [r.name for r in prepared.plan.runtime]
    start = time.monotonic()
    run_bake(
        prepared,
        output=output,
        targets=names,
        builder=info,
        cache_only=True,
        progress=progress,
    )
    out.print(
        f"warmed {len(names)} target(s) ({', '.join(names[:8])}{' …' if len(names) > 8 else ''}) "
        f"for {', '.join(sorted({p for r in prepared.plan.runtime for p in r.platforms}))} "
        f"from cache branch {prepared.plan.cache_branch} on builder {info.name} "
        f"in {time.monotonic() - start:.1f} s"
    )


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
