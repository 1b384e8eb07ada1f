"""Benchmark: the legacy per-base build against the two-stage build, side by side, on the
same engine and registry, in one run (`make bench`).

Scenarios, for each approach: cold (builder cache pruned, fresh registry repositories),
warm rebuild with no change, one more base, an app-source-only change, a lock-file
change; then the default profile (OpenHands' V1 agent-server): deps cold per platform
and start to /ready against a conventionally built agent-server image; how the cost
grows with 1, 2, 4, 8 new bases, 100 new bases in one bake, the docker driver's rows
beside the run's builder, and planning for 2,294 bases. Writes OUT/benchmarks.json,
OUT/benchmarks.md and OUT/img/benchmarks.png.

Usage: python -m tests.bench.compare [--out docs] [--builder NAME] [--scale 1,2,4,8]
       [--legacy-scale 1,2] [--many 100] [--docker-many 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from builder import engine, hcl
from builder.config import load_config
from builder.outdir import write_build_dir
from builder.plan import Plan, Selection
from builder.prepare import prepare
from builder.servers import KINDS
from builder.verify_v1 import V1Api, new_key, wait_for
from tests.bench import measure, plan_scale, report
from tests.bench.measure import Result
from tests.sample import SAMPLE_CONFIG, sample_head

REPO = Path(__file__).resolve().parents[2]
LEGACY_DOCKERFILE = Path(__file__).parent / "legacy" / "Dockerfile"
CONVENTIONAL = Path(__file__).parent / "conventional"  # its Dockerfile and a helper
V1_CONFIG = REPO / "builder.toml"  # the default profile: OpenHands' V1 agent-server
V1_APP = REPO / "profiles" / "agent-server"
DOCKER_DRIVER = "default"  # dockerd's own builder (the `docker` driver)
DOCKER = "two-stage (docker driver)"  # the approach name of its rows
REGISTRY = "127.0.0.1:5000"
PLATFORM = "linux/amd64"
INITIAL = ("debian-bookworm", "debian-trixie", "busybox", "musl", "noshell")
ADDED = "uid1000"
LOCK_BUMP = ("idna", "3.10")  # the lock-file change: a locked dependency moves version
ONE = "debian-bookworm"  # the base of the one-base change scenarios
TOOLS_CHANGE = ("tmux", "bash", "git", "ripgrep", "nodejs")  # the tool-list change: jq dropped


def sh(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, **kw)


def prune() -> None:
    """A cold start: no builder cache and no local images (bases come from the registry).
    This also keeps the disk from filling up with every image the run pushes."""
    for args in (("buildx", "prune", "-af"), ("image", "prune", "-af")):
        r = sh("docker", *args)
        if r.returncode != 0:
            raise SystemExit(f"bench: docker {' '.join(args)} failed: {r.stderr.strip()}")


@dataclass
class Bench:
    work: Path
    run: str
    logs: Path
    bases: dict[str, str]  # name -> image, from builder.toml
    results: list[Result] = field(default_factory=list)
    not_possible: dict[str, str] = field(default_factory=dict)
    images: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    tools: tuple[str, ...] | None = None  # deps.tools override (the tool-list change)

    def repo(self, kind: str) -> str:
        return f"{REGISTRY}/bench-{self.run}/{kind}"

    # -- the app both approaches build -------------------------------------------------
    def reset_app(self) -> None:
        shutil.rmtree(self.work / "app", ignore_errors=True)
        shutil.copytree(
            REPO / "app",
            self.work / "app",
            ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.pyc"),
        )

    def change_source(self) -> None:
        server = self.work / "app" / "action_server" / "server.py"
        server.write_text(server.read_text() + f"\n# bench: source change {self.run}\n")

    def change_lock(self) -> None:
        lock = self.work / "app" / "poetry.lock"
        wheel = fetch_wheel(*LOCK_BUMP, self.work / "wheels")
        lock.write_text(bump_locked(lock.read_text(), *LOCK_BUMP, wheel))

    # -- two-stage -----------------------------------------------------------------------
    def two_stage_plan(
        self,
        names: list[str],
        bases: dict[str, str] | None = None,
        platform: str = PLATFORM,
        prefix: str = "two-stage",
        head: str | None = None,
        cache_flavor: str = "",
    ) -> Plan:
        bases = bases or self.bases
        head = head or sample_head(self.work / "app")  # the copy the changes edit
        head = re.sub(r"(?m)^platforms = .*$", f'platforms = ["{platform}"]', head, count=1)
        if self.tools is not None:
            head = head.replace("[deps]\n", f"[deps]\ntools = {json.dumps(list(self.tools))}\n", 1)
        for kind, repo in (("runtime", "runtime"), ("deps", "deps"), ("cache", "cache")):
            head = re.sub(
                rf'(?m)^{kind}\s*=\s*"[^"]*"', f'{kind} = "{self.repo(f"{prefix}-{repo}")}"', head
            )
        for kind in ("runtime", "deps", "cache"):  # the run's own repositories, always
            if f'{kind} = "{self.repo(f"{prefix}-{kind}")}"' not in head:
                raise SystemExit(f"bench: the config's registry.{kind} was not replaced")
        text = head + "".join(
            f"\n[[bases]]\nimage = {json.dumps(bases[n])}\nname = {json.dumps(n)}\n" for n in names
        )
        (self.work / "builder.toml").write_text(text)
        subprocess.run(  # the bases' digests, from the registry (builder.lock)
            [sys.executable, "-m", "builder", "lock", "-q", "-c", str(self.work / "builder.toml")],
            check=True,
        )
        prepared = prepare(
            load_config(self.work / "builder.toml"),
            Selection(),
            build_dir=str(self.work / "two-stage"),
            cache_flavor=cache_flavor,
        )
        write_build_dir(self.work / "two-stage", prepared.files)
        return prepared.plan

    def two_stage(
        self,
        scenario: str,
        names: list[str],
        only: list[str] | None = None,
        approach: str = "two-stage",
        **kw: Any,
    ) -> tuple[Result, Plan]:
        plan = self.two_stage_plan(names, **kw)
        targets = only or [plan.deps[0].name, *(r.name for r in plan.runtime)]
        result = measure.bake(
            Result(approach, scenario),
            self.work / "two-stage" / "docker-bake.hcl",
            targets,
            cache_repo=self.repo(f"{kw.get('prefix', 'two-stage')}-cache"),
            log=self.logs / f"{slug(approach)}-{slug(scenario)}.log",
        )
        self.results.append(result)
        return result, plan

    # -- legacy --------------------------------------------------------------------------
    def legacy_file(self, names: list[str], version: str, bases: dict[str, str]) -> Path:
        ctx = self.work / "legacy"
        shutil.rmtree(ctx, ignore_errors=True)
        shutil.copytree(self.work / "app", ctx / "app")
        shutil.copy(LEGACY_DOCKERFILE, ctx / "Dockerfile")
        lines = [
            'variable "OH_CA_BUNDLE" {',
            f"  default = {hcl.hcl_string(engine.ca_bundle())}",
            "}",
        ]
        for n in names:
            cache = f"{self.repo('legacy-cache')}:legacy-{n}"
            lines += [
                f"target {hcl.hcl_string('legacy-' + n)} {{",
                f"  context    = {hcl.hcl_string(str(ctx))}",
                '  dockerfile = "Dockerfile"',
                "  pull       = true",
                f'  platforms  = ["{PLATFORM}"]',
                '  secret     = ["id=cacert,src=${OH_CA_BUNDLE}"]',
                f"  args       = {{ BASE_IMAGE = {hcl.hcl_string(bases[n])} }}",
                f"  tags       = [{hcl.hcl_string(self.legacy_ref(n, version))}]",
                f"  cache-from = [{hcl.hcl_string('type=registry,ref=' + cache)}]",
                "  cache-to   = ["
                + hcl.hcl_string(f"type=registry,ref={cache},mode=max,ignore-error=true")
                + "]",
                "}",
            ]
        path = ctx / "docker-bake.hcl"
        path.write_text("\n".join(lines) + "\n")
        return path

    def conventional(self) -> str:
        """OpenHands' V1 agent-server built the usual way (tests/bench/conventional/):
        timed as a row, pushed; returns its reference."""
        ctx = self.work / "conventional"
        shutil.rmtree(ctx, ignore_errors=True)
        ctx.mkdir()
        for name in ("pyproject.toml", "poetry.lock"):
            shutil.copy(V1_APP / name, ctx / name)
        for name in ("Dockerfile", "drop_macos.py"):
            shutil.copy(CONVENTIONAL / name, ctx / name)
        ref = f"{self.repo('conventional')}:v1"
        cache = f"{self.repo('conventional-cache')}:v1"
        (ctx / "docker-bake.hcl").write_text(
            "\n".join(
                [
                    'variable "OH_CA_BUNDLE" {',
                    f"  default = {hcl.hcl_string(engine.ca_bundle())}",
                    "}",
                    'target "conventional" {',
                    f"  context    = {hcl.hcl_string(str(ctx))}",
                    "  pull       = true",
                    f'  platforms  = ["{PLATFORM}"]',
                    '  secret     = ["id=cacert,src=${OH_CA_BUNDLE}"]',
                    f"  tags       = [{hcl.hcl_string(ref)}]",
                    "  cache-to   = ["
                    + hcl.hcl_string(f"type=registry,ref={cache},mode=max,ignore-error=true")
                    + "]",
                    "}",
                ]
            )
            + "\n"
        )
        self.results.append(
            measure.bake(
                Result("conventional", "V1 agent-server image cold (amd64)"),
                ctx / "docker-bake.hcl",
                ["conventional"],
                cache_repo=self.repo("conventional-cache"),
                log=self.logs / "conventional-cold.log",
            )
        )
        return ref

    def legacy_ref(self, name: str, version: str) -> str:
        return f"{self.repo('legacy')}:{name}-{version}"

    def legacy(
        self, scenario: str, names: list[str], version: str, bases: dict[str, str] | None = None
    ) -> Result:
        bake_file = self.legacy_file(names, version, bases or self.bases)
        result = measure.bake(
            Result("legacy", scenario),
            bake_file,
            [f"legacy-{n}" for n in names],
            cache_repo=self.repo("legacy-cache"),
            log=self.logs / f"legacy-{slug(scenario)}.log",
        )
        self.results.append(result)
        return result

    def probe_legacy(self, names: list[str]) -> list[str]:
        """Which bases the legacy Dockerfile can work on at all (apt-get and a shell).

        Tried for real: its first instruction on each base; the failure is the result."""
        ok = []
        probe = self.work / "probe"
        probe.mkdir(exist_ok=True)
        (probe / "Dockerfile").write_text(
            "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nUSER 0:0\nRUN apt-get --version\n"
        )
        for n in names:
            r = sh(
                "docker", "buildx", "build", "--pull", "--platform", PLATFORM,
                "--build-arg", f"BASE_IMAGE={self.bases[n]}", "--progress", "plain",
                str(probe),
            )  # fmt: skip
            if r.returncode == 0:
                ok.append(n)
            else:
                errors = [ln for ln in r.stderr.splitlines() if "ERROR" in ln or "not found" in ln]
                self.not_possible[n] = (errors[-1] if errors else "build failed")[:300]
        return ok

    # -- scale ----------------------------------------------------------------------------
    def base_copies(self, count: int, prefix: str = "copy") -> dict[str, str]:
        """``count`` distinct bases: debian:bookworm plus a marker file each (pushed)."""
        ctx = self.work / prefix
        ctx.mkdir(exist_ok=True)
        (ctx / "Dockerfile").write_text(
            "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG N\nCOPY marker-${N} /etc/oh-bench-copy\n"
        )
        lines = []
        copies = {}
        for i in range(1, count + 1):
            (ctx / f"marker-{i}").write_text(f"{self.run} {prefix} {i}\n")
            ref = f"{self.repo('bases')}:{prefix}-{i}"
            copies[f"{prefix}-{i}"] = ref
            lines += [
                f'target "{prefix}-{i}" {{',
                f"  context = {hcl.hcl_string(str(ctx))}",
                f'  platforms = ["{PLATFORM}"]',
                f"  args = {{ BASE_IMAGE = {hcl.hcl_string(self.bases['debian-bookworm'])}, "
                f'N = "{i}" }}',
                f"  tags = [{hcl.hcl_string(ref)}]",
                "}",
            ]
        (ctx / "docker-bake.hcl").write_text("\n".join(lines) + "\n")
        for _ in engine.bake_stream(ctx / "docker-bake.hcl", list(copies), push=True):
            pass
        return copies


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def fetch_wheel(package: str, version: str, wheels: Path) -> Path:
    """``package==version``'s wheel, downloaded with pip from the configured index."""
    wheels.mkdir(parents=True, exist_ok=True)
    r = sh(
        sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
        "-d", str(wheels), f"{package}=={version}",
    )  # fmt: skip
    found = sorted(wheels.glob(f"{package}-{version}-*.whl"))
    if r.returncode != 0 or not found:
        raise SystemExit(f"bench: cannot fetch {package}=={version}: {r.stderr.strip()[-300:]}")
    return found[0]


def bump_locked(lock: str, package: str, version: str, wheel: Path) -> str:
    """The lock with ``package`` moved to ``version`` and that wheel's real hash: what a
    lock-only dependency update looks like (pyproject.toml, hence the content hash, and
    `poetry check --lock` are unaffected)."""
    import hashlib

    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    block = re.compile(
        rf'(\[\[package\]\]\nname = "{re.escape(package)}"\nversion = ")[^"]+(".*?files = \[\n)'
        r"(.*?)(\n\])",
        re.S,
    )
    new, n = block.subn(
        lambda m: (
            f'{m.group(1)}{version}{m.group(2)}    {{file = "{wheel.name}", '
            f'hash = "sha256:{digest}"}},{m.group(4)}'
        ),
        lock,
        count=1,
    )
    if n != 1:
        raise ValueError(f"{package} is not in the lock")
    return new


def image_metadata(refs: list[str]) -> tuple[set[str], set[str]]:
    """(config blobs, attestation blobs) of the image indexes ``refs``."""
    configs: set[str] = set()
    attestations: set[str] = set()
    for ref in refs:
        for m in measure.registry.get(ref).get("manifests", []):
            manifest = measure.registry.get(ref, m["digest"])
            configs.add(manifest["config"]["digest"].split(":", 1)[1])
            if m.get("platform", {}).get("os") == "unknown":
                attestations |= {x["digest"].split(":", 1)[1] for x in manifest["layers"]}
    return configs, attestations


def classify_uploads(uploaded: list[str], refs: list[str], app_layer: str) -> dict[str, int]:
    """What the image blobs uploaded by a scenario were: the app layer, other layers,
    image configs, attestations."""
    configs, attestations = image_metadata(refs)
    kinds = {"app layer": 0, "other layers": 0, "configs": 0, "attestations": 0}
    for h in uploaded:
        if h == app_layer:
            kinds["app layer"] += 1
        elif h in configs:
            kinds["configs"] += 1
        elif h in attestations:
            kinds["attestations"] += 1
        else:
            kinds["other layers"] += 1
    return kinds


BUNDLE = ("system", "venv", "browser")
CHECKS = ("check system", "check venv", "check browser")


def deps_layers(ref: str, platform: str = PLATFORM) -> dict[str, dict[str, Any]]:
    """The deps image's layers by name ("check venv", "setup kit", "venv", ...) -> their
    manifest entries. Its history records each COPY without its --from, so the names
    follow deps.Dockerfile's last stage: the check markers, the setup kit, then the
    bundle layers in their fixed order."""
    layers = measure._manifest(ref, platform)["layers"]
    config = measure.registry.image_config(ref, platform)
    made = [h.get("created_by", "") for h in config["history"] if not h.get("empty_layer")]
    checks, bundle = iter(CHECKS), iter(BUNDLE)
    out: dict[str, dict[str, Any]] = {}
    for created_by, layer in zip(made, layers, strict=True):
        if "/oh-layers/setup-" in created_by:
            name = "setup kit"
        elif " /out/ /" in created_by:
            name = next(checks)
        elif " /oh-out/ /" in created_by:
            name = next(bundle)
        else:
            name = created_by or "other"
        out[name] = layer
    return out


def runtime_layers(ref: str, platform: str = PLATFORM) -> dict[str, str]:
    """A runtime image's own layers (its base's left out), named from the history its
    config records (each bundle layer's COPY names it: /oh-layers/NAME-KEY/) -> digest."""
    config = measure.registry.image_config(ref, platform)
    made = [h.get("created_by", "") for h in config["history"] if not h.get("empty_layer")]
    digests = measure.layer_digests(ref, platform)
    out: dict[str, str] = {}
    for created_by, digest in zip(made, digests, strict=True):
        m = re.search(r"/oh-layers/(setup|system|venv|browser)-", created_by)
        if m:
            out[m.group(1)] = digest
        elif "COPY" in created_by and " app/ " in created_by:
            out["app"] = digest
        elif out:
            out[created_by.split()[0].lower() if created_by else "other"] = digest
    return out


def layer_sizes(ref: str, platform: str) -> dict[str, dict[str, int]]:
    """The deps image's bundle layers (compressed, uncompressed)."""
    out = {}
    for name, layer in deps_layers(ref, platform).items():
        if name not in BUNDLE:
            continue
        h = layer["digest"].split(":", 1)[1]
        out[name] = {"compressed": int(layer["size"]), "uncompressed": measure.uncompressed_size(h)}
    return out


def deps_cold(b: Bench) -> None:
    """The deps image alone, cold, per platform: pruned builder, own cache repositories.
    The arm64 one is cross-assembled on this amd64 machine; only its smoke checks run
    under emulation."""
    b.reset_app()
    for target in ("linux/amd64", "linux/arm64"):
        arch = target.split("/")[1]
        prune()
        _, plan = b.two_stage(
            f"deps cold ({arch})", [ONE], only=["deps"], platform=target, prefix=f"cold-{arch}"
        )
        b.extra.setdefault("layers", {})[arch] = layer_sizes(plan.deps[0].ref, target)


def classify_layers(uploaded: list[str], runtime_ref: str, deps_ref: str) -> dict[str, int]:
    """Which layer each uploaded blob is (the runtime image's by its history, the deps
    image's by position: it keeps its own copies of the bundle layers), configs,
    attestations, other."""
    names = {
        layer["digest"].split(":", 1)[1]: name + (" (deps image copy)" if name in BUNDLE else "")
        for name, layer in deps_layers(deps_ref).items()
    }
    names |= {digest: name for name, digest in runtime_layers(runtime_ref).items()}
    configs, attestations = image_metadata([runtime_ref, deps_ref])
    kinds: dict[str, int] = {}
    for h in uploaded:
        kind = names.get(h) or (
            "config" if h in configs else "attestation" if h in attestations else "other layer"
        )
        kinds[kind] = kinds.get(kind, 0) + measure.blob_size(h)
    return kinds


def change_one_base(b: Bench, scenario: str) -> None:
    result, plan = b.two_stage(scenario, [ONE])
    kinds = classify_layers(result.uploaded, plan.runtime[0].ref, plan.deps[0].ref)
    b.extra.setdefault("uploads", {})[scenario] = kinds


def start_to_alive(ref: str, runs: int = 3) -> float:
    """Median seconds from `docker run` to the server's first 200 on /alive."""
    import urllib.request

    times = []
    for i in range(runs):
        name = f"oh-bench-start-{i}"
        sh("docker", "rm", "-f", name)
        t0 = time.monotonic()
        r = sh("docker", "run", "-d", "--rm", "--name", name, "-p", "127.0.0.1::8000", ref)
        if r.returncode != 0:
            raise SystemExit(f"bench: cannot start {ref}: {r.stderr.strip()[-300:]}")
        port = sh("docker", "port", name, "8000/tcp").stdout.split(":")[-1].strip()
        while time.monotonic() - t0 < 120:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/alive", timeout=2):
                    break
            except OSError:
                time.sleep(0.02)
        times.append(time.monotonic() - t0)
        sh("docker", "rm", "-f", name)
    return sorted(times)[len(times) // 2]


NOPYC = (
    "ARG REF\nFROM ${REF}\nUSER 0:0\n"
    'RUN ["/openhands/python/bin/python3", "-I", "-c", "import pathlib, shutil; '
    "[shutil.rmtree(p) for p in list(pathlib.Path('/openhands').rglob('__pycache__'))]\"]\n"
    "USER 1000:1000\n"
)


def startup(b: Bench, plan: Plan) -> None:
    """Start to ready per base: with the precompiled bytecode, without it (the same image
    with every __pycache__ removed; the bundle is read-only to the server, so it compiles
    on every start), and the conventional (legacy) image."""
    ctx = b.work / "nopyc"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(NOPYC)
    out: dict[str, dict[str, float]] = {}
    for r in plan.runtime:
        sh("docker", "pull", "-q", r.ref)
        local = f"oh-bench-nopyc:{r.key}"
        built = sh(
            "docker",
            "buildx",
            "build",
            "--load",
            "-q",
            "--build-arg",
            f"REF={r.ref}",
            "-t",
            local,
            str(ctx),
        )
        row = {"with bytecode": round(start_to_alive(r.ref), 2)}
        if built.returncode == 0:
            row["without bytecode"] = round(start_to_alive(local), 2)
        out[r.key] = row
    legacy = b.legacy_ref(ONE, "v1")
    if ONE in out and sh("docker", "pull", "-q", legacy).returncode == 0:
        out[ONE]["conventional (legacy image)"] = round(start_to_alive(legacy), 2)
    b.extra["start_to_alive"] = out


def v1_head() -> str:
    """The default config (builder.toml: OpenHands' V1 agent-server) up to its first
    [[bases]], with deps.app an absolute path."""
    head = V1_CONFIG.read_text().split("[[bases]]", 1)[0]
    old = 'app = "profiles/agent-server"'
    assert old in head, f"{V1_CONFIG}: no {old}"
    return head.replace(old, f"app = {json.dumps(str(V1_APP))}", 1)


def start_to_ready(image: str, runs: int = 3) -> float:
    """Median seconds from `docker run` (started as OpenHands' sandbox service starts the
    agent-server) to the first 200 from /ready."""
    times = []
    for _ in range(runs):
        key = new_key()
        t0 = time.monotonic()
        cid, port = engine.run_container(
            image, pull=False, **KINDS["agent-server"].launch.options(key)
        )
        try:
            wait_for(V1Api(port, key), "/ready", 180)
            times.append(time.monotonic() - t0)
        finally:
            engine.remove_container(cid)
    return sorted(times)[len(times) // 2]


def agent_server(b: Bench) -> None:
    """The default profile, OpenHands' real V1 agent-server: deps cold per platform
    (pruned builder, own repositories; arm64 cross-assembled, its smoke checks under
    qemu), its bundle layers, the runtime images for the six bases, a conventional
    agent-server image built the usual way, and start to /ready for each."""
    head = v1_head()
    every = [*INITIAL, ADDED]
    for target in ("linux/amd64", "linux/arm64"):
        arch = target.split("/")[1]
        prune()
        _, plan = b.two_stage(
            f"V1 deps cold ({arch})", [ONE], only=["deps"], platform=target,
            prefix=f"v1-{arch}", head=head,
        )  # fmt: skip
        b.extra.setdefault("v1_layers", {})[arch] = layer_sizes(plan.deps[0].ref, target)
    _, plan = b.two_stage(
        f"V1 runtime images ({len(every)} bases)", every, prefix="v1-amd64", head=head
    )
    conventional = b.conventional()
    b.images["V1 agent-server"] = {r.key: measure.image_size(r.ref) for r in plan.runtime} | {
        "conventional image": measure.image_size(conventional)
    }
    out: dict[str, float] = {}
    for image in [*(r.ref for r in plan.runtime), conventional]:
        engine.pull_image(image, platform=PLATFORM)
    for r in plan.runtime:
        out[r.key] = round(start_to_ready(r.ref), 2)
    out["conventional"] = round(start_to_ready(conventional), 2)
    b.extra["v1_start_to_ready"] = out


def docker_driver(b: Bench, count: int) -> None:
    """The docker driver's rows beside the run's builder: the sample profile cold, one
    more base, ``count`` new bases in one bake. Its own repositories and cache tags
    (`--dockerd`: dockerd's BuildKit computes other cache keys); every push is also
    unpacked into the local image store."""
    saved = os.environ.get("BUILDX_BUILDER")
    copies = b.base_copies(count, prefix="dmany") if count > 0 else {}
    os.environ["BUILDX_BUILDER"] = DOCKER_DRIVER
    kw: dict[str, Any] = {"approach": DOCKER, "prefix": "dockerd", "cache_flavor": "dockerd"}
    try:
        prune()
        b.reset_app()
        b.two_stage("cold", list(INITIAL), **kw)
        b.two_stage("one more base", [*INITIAL, ADDED], only=[f"runtime-{ADDED}"], **kw)
        if copies:
            result, _ = b.two_stage(
                f"many: {count} new bases in one bake", list(copies), bases=copies, **kw
            )
            b.extra["many_docker_driver"] = many_figures(result, count)
    finally:
        prune()
        if saved is None:
            os.environ.pop("BUILDX_BUILDER", None)
        else:
            os.environ["BUILDX_BUILDER"] = saved


def scenarios(b: Bench) -> None:
    names = list(INITIAL)
    every = [*INITIAL, ADDED]
    possible = b.probe_legacy(every)

    deps_cold(b)

    # Legacy.
    b.reset_app()
    prune()
    legacy_initial = [n for n in names if n in possible]
    b.legacy("cold", legacy_initial, "v1")
    b.legacy("warm rebuild, no change", legacy_initial, "v1")
    if ADDED in possible:
        b.legacy("one more base", [ADDED], "v1")
    legacy_all = [n for n in every if n in possible]
    b.images["legacy"] = {n: measure.image_size(b.legacy_ref(n, "v1")) for n in legacy_all}
    b.change_source()
    b.legacy("app source change", legacy_all, "v2")
    b.change_lock()
    b.legacy("lock-file change (one base)", [ONE], "v3")

    # Two-stage.
    b.reset_app()
    prune()
    b.two_stage("cold", names)
    b.two_stage("warm rebuild, no change", names)
    _, plan = b.two_stage("one more base", every, only=[f"runtime-{ADDED}"])
    deps_ref = plan.deps[0].ref
    b.images["two-stage"] = {r.key: measure.image_size(r.ref) for r in plan.runtime} | {
        "deps (system + venv layers)": measure.image_size(deps_ref)
    }
    bundle = layer_sizes(deps_ref, PLATFORM)
    b.extra["openhands_layer_compressed"] = sum(x["compressed"] for x in bundle.values())
    startup(b, plan)
    before = measure.layer_digests(plan.runtime[0].ref)
    b.change_source()
    app, plan = b.two_stage("app source change", every)
    refs = [r.ref for r in plan.runtime] + [plan.deps[0].ref]  # deps is re-pushed too
    changed = [h for h in measure.layer_digests(refs[0]) if h not in before and h in app.uploaded]
    if len(changed) != 1:
        raise SystemExit(f"bench: a source change uploaded {len(changed)} layers of {refs[0]}")
    app_layer = changed[0]
    b.extra["app_change_uploads"] = classify_uploads(app.uploaded, refs, app_layer)
    b.extra["app_layer_compressed"] = measure.blob_size(app_layer)
    b.change_lock()
    change_one_base(b, "lock-file change (one base)")
    b.tools = TOOLS_CHANGE
    change_one_base(b, "tool-list change (one base)")
    b.tools = None
    # The tool-list change exported the deps cache (same reference) for its own tools:
    # export it again for the real ones (all cached), or the scale rows would rebuild.
    b.two_stage("restore the deps cache", [ONE])


def many(b: Bench, count: int) -> None:
    """The SWE-bench case: once deps exists, ``count`` runtime images for distinct small
    bases in one bake (no prune: the deps image and its cache are there)."""
    if count <= 0:
        return
    copies = b.base_copies(count, prefix="many")
    result, _ = b.two_stage(f"many: {count} new bases in one bake", list(copies), bases=copies)
    b.extra["many"] = many_figures(result, count)
    prune()  # a docker driver also unpacked every runtime image locally: free the disk


def many_figures(result: Result, count: int) -> dict[str, Any]:
    return {
        "bases": count,
        "ok": result.ok,
        "seconds": round(result.seconds, 1),
        "seconds_per_base": round(result.seconds / count, 2),
        "unpack_seconds_per_base": round(result.unpack_seconds / count, 2),
        "growth_per_base": round(result.registry_growth_bytes / count),
        "pushed_image_bytes_per_base": round(result.pushed_image_bytes / count),
    }


def scale(b: Bench, sizes: list[int], legacy_sizes: list[int]) -> None:
    """New bases each time (distinct copies), on a pruned builder, deps from the registry."""
    copies = b.base_copies(max(sum(sizes), sum(legacy_sizes)))
    order = list(copies)  # the app stays as the last scenario left it: deps cache matches
    for approach, counts in (("two-stage", sizes), ("legacy", legacy_sizes)):
        start = 0
        for n in counts:
            chosen = order[start : start + n]
            start += n
            prune()
            label = f"scale: {n} new base{'s' if n > 1 else ''}"
            if approach == "legacy":
                b.legacy(label, chosen, "v1", bases=copies)
            else:
                b.two_stage(label, chosen, bases=copies)


def cleanup_registry(run: str) -> None:
    """Delete this run's repositories and garbage-collect the registry's storage (the run
    pushes tens of GB), then start the registry again with tests/engine/engine.sh.
    The registry is stopped meanwhile: collecting while it serves is not safe."""
    import signal

    state = Path(os.environ.get("OH_ENGINE_STATE", "/var/lib/oh-builder-engine"))
    shutil.rmtree(measure.registry.DATA.parent / "repositories" / f"bench-{run}", True)
    pid_file = state / "registry.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text())
        try:
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.1)
        except OSError:
            pass
    gc = sh("docker-registry", "garbage-collect", str(state / "registry.yml"))
    if gc.returncode != 0:
        print(f"bench: registry garbage-collect failed: {gc.stderr.strip()[-300:]}")
    up = sh("bash", str(REPO / "tests" / "engine" / "engine.sh"))
    if up.returncode != 0:
        raise SystemExit(f"bench: could not restart the registry: {up.stderr.strip()[-300:]}")


def machine() -> dict[str, Any]:
    info = engine.check_engine()
    builder = engine.builder_info(os.environ.get("BUILDX_BUILDER") or None)
    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) // 1024 // 1024
    return {
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": platform.node(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "memory_gib": mem,
        "docker": info["daemon"],
        "buildx": info["buildx"],
        "builder": f"{builder.name} ({builder.driver}, BuildKit {builder.buildkit})",
        "platform": PLATFORM,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--out", type=Path, default=REPO / "docs")
    ap.add_argument("--scale", default="1,2,4,8")
    ap.add_argument("--legacy-scale", default="1,2")
    ap.add_argument(
        "--many", type=int, default=100,
        help="runtime images for this many new bases in one bake, on the run's builder",
    )  # fmt: skip
    ap.add_argument(
        "--docker-many", type=int, default=10,
        help="the same on the docker driver (0: no docker-driver rows at all); it unpacks "
        "each image into the local store: ~0.9 GB of disk apiece",
    )  # fmt: skip
    ap.add_argument("--logs", type=Path, default=Path("/var/log/oh-builder/bench"))
    ap.add_argument("--keep", action="store_true", help="keep the run's registry repositories")
    ap.add_argument(
        "--builder",
        help="buildx builder for every build, prune and push of the run (BUILDX_BUILDER)",
    )
    args = ap.parse_args(argv)
    if args.builder:  # buildx reads it for every command the run makes
        os.environ["BUILDX_BUILDER"] = args.builder
    sizes = [int(x) for x in args.scale.split(",") if x]
    legacy_sizes = [int(x) for x in args.legacy_scale.split(",") if x]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="oh-bench-") as tmp:
        cfg = load_config(SAMPLE_CONFIG)
        b = Bench(
            work=Path(tmp),
            run=dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S"),
            logs=args.logs,
            bases={base.name: base.image for base in cfg.bases},
        )
        missing = [n for n in (*INITIAL, ADDED) if n not in b.bases]
        if missing:
            raise SystemExit(f"bench: {SAMPLE_CONFIG} lacks the bases {missing}")
        results: dict[str, Any] = {
            "machine": machine(),
            "run": b.run,
            "added": ADDED,
            "lock_change": f"{LOCK_BUMP[0]} moved to {LOCK_BUMP[1]} in poetry.lock",
        }
        notes: list[str] = []
        for phase, run in (
            ("scenarios", lambda: scenarios(b)),
            ("agent-server", lambda: agent_server(b)),
            ("scale", lambda: scale(b, sizes, legacy_sizes)),
            ("many", lambda: many(b, args.many)),
            ("docker driver", lambda: docker_driver(b, args.docker_many)),
        ):
            if phase == "docker driver" and args.docker_many <= 0:
                continue
            try:  # a failed phase is reported; the figures of the others still count
                run()
            except (Exception, SystemExit) as exc:
                notes.append(f"the {phase} phase failed: {exc}")
                print(f"bench: {notes[-1]}", file=sys.stderr)
        results["notes"] = notes
        results["planning"] = plan_scale.main(2294, buildx=True)
        results |= {
            "results": [r.as_json() for r in b.results],
            "not_possible": b.not_possible,
            "images": b.images,
            "extra": b.extra,
            "bench_seconds": round(time.monotonic() - started),
        }
    results["ratios"] = report.ratios(results)
    report.write(results, args.out)
    if not args.keep:
        cleanup_registry(b.run)
    print(json.dumps(results["ratios"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
