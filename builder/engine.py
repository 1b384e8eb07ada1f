"""The one module that talks to Docker (through python-on-whales).

Everything else calls these functions with plain Python values and gets plain values
back; python-on-whales' types and exceptions do not leave this module.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, Unpack, cast

from builder.builders import FS_ENTITLEMENTS_SINCE, BuilderInfo, fs_entitlements, parse_version
from builder.errors import BuildError, EngineError
from builder.refs import parse_image_ref

MIN_BUILDX = (0, 11)


def _docker() -> Any:
    if shutil.which("docker") is None:
        raise EngineError("the docker client is not on PATH; install Docker (or run 'make engine')")
    from python_on_whales import docker

    return docker


def ca_bundle() -> str:
    """The host CA bundle passed to builds as the ``cacert`` secret."""
    for var in ("OH_CA_BUNDLE", "PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return value
    for path in (
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ):
        if Path(path).is_file():
            return path
    raise EngineError("no CA bundle found for HTTPS inside builds; set OH_CA_BUNDLE to a PEM file")


def _error_text(exc: Exception) -> str:
    stderr = getattr(exc, "stderr", None) or str(exc)
    lines = [line for line in str(stderr).strip().splitlines() if line.strip()]
    return lines[-1].removeprefix("ERROR: ") if lines else str(exc)


def check_engine() -> dict[str, str]:
    """Client, daemon and buildx; raises EngineError with what to do."""
    docker = _docker()
    from python_on_whales.exceptions import DockerException

    try:
        server = docker.version().server
    except DockerException as exc:
        raise EngineError(
            f"the Docker daemon is not reachable ({_error_text(exc)}); "
            "start it or run 'make engine'"
        ) from None
    try:
        out = docker.buildx.version()
    except DockerException:
        raise EngineError(
            "docker buildx is missing; install the buildx plugin >= 0.11 (Debian: docker-buildx)"
        ) from None
    text = out["version"] if isinstance(out, dict) else str(out)
    m = re.search(r"v?(\d+)\.(\d+)", text)
    if not m or (int(m.group(1)), int(m.group(2))) < MIN_BUILDX:
        raise EngineError(f"docker buildx {text} is older than 0.11; upgrade the buildx plugin")
    return {"daemon": str(getattr(server, "version", "?")), "buildx": text}


@functools.cache
def buildx_version() -> tuple[int, int, int]:
    """The buildx plugin's version, e.g. (0, 29, 1); asked once per process."""
    out = _docker().buildx.version()
    return parse_version(out["version"] if isinstance(out, dict) else str(out))


def builder_info(name: str | None) -> BuilderInfo:
    """What the builder ``name`` (None: buildx's current one) is and runs on; starts
    (bootstraps) it. EngineError naming the builder when there is none of that name or
    its daemon does not answer."""
    docker = _docker()
    from python_on_whales.exceptions import DockerException

    label = name or "(buildx's current builder)"
    try:
        b = docker.buildx.inspect(name, bootstrap=True)
        driver, nodes = str(b.driver), list(b.nodes or [])
    except (DockerException, ValueError) as exc:
        text = _error_text(exc) if isinstance(exc, DockerException) else str(exc)
        if "no builder" in text or "not found" in text or isinstance(exc, ValueError):
            raise EngineError(
                f"builder {label}: no such builder ({text}); `docker buildx ls` lists them, "
                "`make engine` creates oh-buildkitd"
            ) from None
        try:  # it exists but does not start: say which daemon (inspect without starting)
            b = docker.buildx.inspect(name)
            down = list(b.nodes or [])
            where = f"{b.driver}, {down[0].endpoint if down else '?'}"
        except (DockerException, ValueError):
            raise EngineError(f"builder {label}: cannot inspect it: {text}") from None
        raise EngineError(
            f"builder {b.name} ({where}) does not answer: {text}; "
            "start its daemon (`make engine` starts oh-buildkitd) or pick another builder"
        ) from None
    endpoint = str(nodes[0].endpoint) if nodes else "?"
    status = str(nodes[0].status) if nodes else "?"
    if status != "running":
        raise EngineError(
            f"builder {b.name} ({driver}, {endpoint}) is {status}; start its daemon "
            "(`make engine` starts oh-buildkitd) or pick another builder"
        )
    store = False
    if driver == "docker":
        with contextlib.suppress(DockerException):
            store = "io.containerd.snapshotter" in str(docker.info().driver_status)
    return BuilderInfo(
        name=str(b.name),
        driver=driver,
        endpoint=endpoint,
        status=status,
        buildkit=str(nodes[0].version or "") if nodes else "",
        platforms=tuple(dict.fromkeys(str(p) for n in nodes for p in (n.platforms or []))),
        containerd_store=store,
    )


class BakeOptions(TypedDict, total=False):
    """What a bake is asked for, besides its file and targets (every key optional)."""

    builder: str | None
    push: bool
    load: bool
    no_cache: bool
    metadata_file: Path | None
    overrides: Mapping[str, str] | None
    progress: str  # plain (default) or rawjson


def bake_args(
    bake_file: Path,
    targets: Sequence[str],
    allow: Sequence[str] = (),
    **o: Unpack[BakeOptions],
) -> list[str]:
    """``docker buildx bake`` arguments (after ``docker``)."""
    args = ["buildx", "bake", "--file", str(bake_file), "--progress", o.get("progress", "plain")]
    builder, metadata_file = o.get("builder"), o.get("metadata_file")
    args += ["--builder", builder] if builder else []
    args += ["--push"] if o.get("push") else []
    args += ["--load"] if o.get("load") else []
    args += ["--no-cache"] if o.get("no_cache") else []
    args += ["--metadata-file", str(metadata_file)] if metadata_file else []
    args += [f"--allow={a}" for a in allow]
    for key, value in (o.get("overrides") or {}).items():
        args += ["--set", f"{key}={value}"]
    return [*args, *targets]


def bake_entitlements(bake_file: Path) -> list[str]:
    """What ``--allow`` the buildx in use needs for this bake: none before 0.19; then
    read access to the CA bundle (a build secret) and the build directory where they
    lie outside the working directory. Never a blanket grant."""
    if buildx_version()[:2] < FS_ENTITLEMENTS_SINCE:
        return []
    return fs_entitlements([Path(ca_bundle()), bake_file.absolute().parent])


def bake_stream(
    bake_file: Path, targets: Sequence[str], **options: Unpack[BakeOptions]
) -> Iterator[str]:
    """Run ``docker buildx bake --progress=PROGRESS`` (plain or rawjson); yield its lines.

    Raises BuildError at the end when buildx fails (after every line was yielded).
    """
    docker = _docker()
    from python_on_whales.components.buildx.cli_wrapper import stream_buildx_logs
    from python_on_whales.exceptions import DockerException

    argv = bake_args(bake_file, targets, allow=bake_entitlements(bake_file), **options)
    stream = stream_buildx_logs(docker.buildx.docker_cmd + argv, env={"OH_CA_BUNDLE": ca_bundle()})
    finished = False
    try:
        for line in stream:
            yield str(line).rstrip("\n")
        finished = True
    except DockerException as exc:
        finished = True  # buildx has exited
        raise BuildError(
            f"docker buildx bake {' '.join(targets)} failed (exit {exc.return_code})"
        ) from None
    finally:
        if not finished:  # interrupted, or the caller stopped reading
            _stop_buildx_children()


def _stop_buildx_children(grace: float = 10.0) -> None:
    """Interrupt any ``docker buildx`` we started that is still running (Ctrl-C reaches
    the whole process group, but a SIGINT/SIGTERM sent to us alone would not), so an
    unfinished target never goes on to push its tag."""
    import signal

    parents: dict[int, int] = {}
    commands: dict[int, bytes] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            commands[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
    mine: set[int] = set()
    frontier = {os.getpid()}
    while frontier:  # our descendants: docker, and the docker-buildx plugin it runs
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - mine
        mine |= frontier
    children = sorted(pid for pid in mine if b"buildx" in commands.get(pid, b""))
    for pid in children:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + grace
    while children and time.monotonic() < deadline:
        children = [pid for pid in children if Path(f"/proc/{pid}").exists() and not _zombie(pid)]
        time.sleep(0.1)
    for pid in children:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


# What buildx says when a registry check failed for a reason that is not the image's
# absence: the login, the registry's certificate, or a transient failure (tried again).
_AUTH_ERRORS = ("401 unauthorized", "403 forbidden", "authorization failed", "no basic auth",
                "failed to authorize", "authentication required", "unauthorized:")  # fmt: skip
_TLS_ERRORS = ("x509:", "tls:", "certificate")
_TRANSIENT = re.compile(
    r"\b(?:429|500|502|503|504)\b|connection reset|connection refused|i/o timeout|EOF$"
)
REGISTRY_TRIES = 4  # a manifest check: 0.5, 1 then 2 s apart


@dataclass(frozen=True)
class RegistryFailure:
    """A registry request that failed other than by "not found": what kind of failure
    (login, tls, transient, other) and the one-line error."""

    kind: str
    message: str

    @property
    def transient(self) -> bool:
        return self.kind == "transient"


def transient_registry_error(text: str) -> bool:
    """Whether a build's error line is a registry failure worth another try (a 5xx or
    429 answer, a reset or refused connection), not a failed step."""
    return bool(_TRANSIENT.search(text)) and not any(m in text.lower() for m in _AUTH_ERRORS)


def registry_failure(ref: str, text: str) -> RegistryFailure | None:
    """What buildx's error ``text`` for ``ref`` means (None: not found, it is absent)."""
    low = text.lower()
    if low.endswith("not found") or ": not found" in low:
        return None
    try:
        host = parse_image_ref(ref).domain or "docker.io"
    except ValueError:
        host = ref
    if any(m in low for m in _AUTH_ERRORS):
        return RegistryFailure(
            "login",
            f"{host}: the registry refused the login for {ref} ({text}); run "
            f"`docker login {host}` with an account that can push there",
        )
    if any(m in low for m in _TLS_ERRORS):
        return RegistryFailure(
            "tls",
            f"{host}: the registry's TLS certificate is not trusted ({text}); put its CA in "
            f"/etc/docker/certs.d/{host}/ca.crt and in the builder's config, then rerun",
        )
    if _TRANSIENT.search(text):
        return RegistryFailure("transient", f"{host}: registry error for {ref} ({text})")
    return RegistryFailure("other", f"{host}: cannot reach {ref} ({text}); is the registry up?")


def image_exists(ref: str, platforms: Sequence[str] = ()) -> bool:
    """True when the registry has ``ref`` with every one of ``platforms``.

    An image pushed for fewer platforms (an amd64-only run) does not count as present
    for a multi-platform build of the same tag. Only "not found" means absent: a refused
    login or an untrusted certificate raises EngineError at once (never a silent rebuild
    of everything), a transient error is tried again (REGISTRY_TRIES, backing off).
    """
    docker = _docker()
    from python_on_whales.exceptions import DockerException

    for attempt in range(REGISTRY_TRIES):
        try:
            manifest = docker.buildx.imagetools.inspect(ref)
            break
        except DockerException as exc:
            failure = registry_failure(ref, _error_text(exc))
            if failure is None:
                return False
            if not failure.transient:
                raise EngineError(failure.message) from None
            if attempt == REGISTRY_TRIES - 1:
                raise EngineError(
                    f"{failure.message}, {REGISTRY_TRIES} tries; rerun when it answers"
                ) from None
            time.sleep(0.5 * 2**attempt)
    if not platforms:
        return True
    have: set[str] = set()
    for m in manifest.manifests or []:
        p = m.platform
        if p is not None and p.os and p.architecture:
            have.add(f"{p.os}/{p.architecture}" + (f"/{p.variant}" if p.variant else ""))
    if not manifest.manifests:  # a single-platform manifest, not an index
        return len(platforms) == 1
    return all(p in have or f"{p}/v8" in have for p in platforms)


def create_index(ref: str, sources: Sequence[str], *, builder: str | None = None) -> None:
    """Push ``ref`` as an index of ``sources`` (``repo@digest``, images or indexes of the
    same repository): ``docker buildx imagetools create``, which copies no layers."""
    docker = _docker()
    from python_on_whales.exceptions import DockerException

    try:
        docker.buildx.imagetools.create(sources=list(sources), tags=[ref], builder=builder)
    except DockerException as exc:
        raise EngineError(
            f"{ref}: could not push the multi-platform index ({_error_text(exc)}); check "
            "the registry (docker login) and rerun the merge"
        ) from None


# runc's init handshake now and then fails on a loaded machine ("waiting for init preliminary
# setup: read init-p: connection reset by peer", seen once in ~500 container starts in CI);
# nothing was started, so starting again is safe.
RUNC_RETRIES = 2
_RUNC_INIT_FLAKES = ("read init-p: connection reset by peer", "waiting for init preliminary setup")


def runc_init_flake(returncode: int | None, stderr: str) -> bool:
    """Whether a failed container start is runc's transient init-handshake failure."""
    return returncode == 125 and any(m in stderr for m in _RUNC_INIT_FLAKES)


def registry_settings() -> tuple[list[str], list[str], list[str]]:
    """The daemon's Docker Hub mirrors, insecure CIDRs and insecure registry hosts (what
    it pulls ``debian:bookworm`` through and where it speaks plain HTTP)."""
    docker = _docker()
    from python_on_whales.exceptions import DockerException

    try:
        rc = docker.system.info().registry_config
    except DockerException as exc:
        raise EngineError(
            f"the Docker daemon is not reachable ({_error_text(exc)}); "
            "start it (make engine) or set DOCKER_HOST"
        ) from None
    data = cast(dict[str, Any], rc if isinstance(rc, dict) else {})
    indexes = data.get("IndexConfigs") or {}
    hosts = [name for name, ix in indexes.items() if isinstance(ix, dict) and not ix.get("Secure")]
    return list(data.get("Mirrors") or []), list(data.get("InsecureRegistryCIDRs") or []), hosts


def run_container(
    image: str,
    *,
    platform: str | None = None,
    port: int = 8000,
    pull: bool = True,
    env: Mapping[str, str] | None = None,
    command: Sequence[str] = (),
    workdir: str | None = None,
) -> tuple[str, int]:
    """Start ``image`` (its own CMD unless ``command``), ``port`` published on 127.0.0.1;
    (id, host port)."""
    docker = _docker()
    from python_on_whales.exceptions import DockerException

    try:
        if pull:
            pull_image(image, platform=platform)
        for attempt in range(RUNC_RETRIES + 1):
            try:
                c = docker.run(
                    image,
                    list(command),
                    detach=True,
                    workdir=workdir,
                    platform=platform,
                    publish=[("127.0.0.1:", port)],
                    pull="never",
                    envs=dict(env or {}),
                    labels={"dev.oh-builder.verify": "1"},
                )
                break
            except DockerException as exc:
                if attempt == RUNC_RETRIES or not runc_init_flake(125, str(exc)):
                    raise
                _remove_created(image)
                time.sleep(2)
    except DockerException as exc:
        raise EngineError(f"{image}: cannot start a container: {_error_text(exc)}") from None
    try:
        time.sleep(0.2)
        c.reload()
        ports = c.network_settings.ports or {}
        host_port = int(ports[f"{port}/tcp"][0]["HostPort"])
    except (DockerException, KeyError, IndexError, TypeError):
        logs = container_logs(str(c.id), tail=5).replace("\n", " | ")
        remove_container(str(c.id))
        raise EngineError(f"{image}: the container exited at once: {logs}") from None
    return str(c.id), host_port


def _remove_created(image: str) -> None:
    """Remove the never-started containers a failed ``run_container`` of ``image`` left."""
    docker = _docker()
    from python_on_whales.exceptions import DockerException

    with contextlib.suppress(DockerException):
        for c in docker.container.list(
            all=True, filters={"label": "dev.oh-builder.verify=1", "status": "created"}
        ):
            if c.config.image == image:
                docker.container.remove(c, force=True)


def remove_container(container_id: str) -> None:
    docker = _docker()
    from python_on_whales.exceptions import DockerException

    with contextlib.suppress(DockerException):
        docker.container.remove(container_id, force=True)


def container_logs(container_id: str, tail: int = 30) -> str:
    docker = _docker()
    from python_on_whales.exceptions import DockerException

    try:
        text = str(docker.container.logs(container_id))
    except DockerException as exc:
        return _error_text(exc)
    return "\n".join(text.splitlines()[-tail:])


def pull_image(image: str, *, platform: str | None = None) -> None:
    docker = _docker()
    from python_on_whales.exceptions import DockerException

    try:  # quietly: verify --json owns stdout
        docker.image.pull(image, quiet=True, platform=platform)
    except DockerException as exc:
        raise EngineError(f"{image}: cannot pull: {_error_text(exc)}") from None


def image_labels(image: str) -> dict[str, str]:
    """The Labels of an image's config (empty when it has none or is not local)."""
    docker = _docker()
    from python_on_whales.exceptions import DockerException

    try:
        return dict(docker.image.inspect(image).config.labels or {})
    except DockerException:
        return {}


def image_env(image: str) -> dict[str, str]:
    """The Env of an image's config (already pulled by run_container)."""
    docker = _docker()
    from python_on_whales.exceptions import DockerException

    try:
        env = docker.image.inspect(image).config.env or []
    except DockerException:
        return {}
    return dict(e.split("=", 1) for e in env if "=" in e)


def doctor(registries: Sequence[str], builder: str | None = None) -> list[tuple[str, bool, str]]:
    """(check, ok, detail or what to do) for everything builds need."""
    rows: list[tuple[str, bool, str]] = []
    if shutil.which("docker") is None:
        return [("docker client", False, "not on PATH; install Docker or run 'make engine'")]
    rows.append(("docker client", True, str(shutil.which("docker"))))
    try:
        info = check_engine()
    except EngineError as exc:
        rows.append(("engine", False, str(exc)))
        return rows
    rows.append(("docker daemon", True, info["daemon"]))
    rows.append(("buildx >= 0.11", True, info["buildx"]))
    if buildx_version()[:2] >= FS_ENTITLEMENTS_SINCE:
        rows.append(
            (
                "buildx filesystem entitlements",
                True,
                "asked for; oh-builder passes --allow=fs.read= for the CA bundle and the "
                "build directory when they are outside the working directory",
            )
        )
    try:
        b = builder_info(builder)
    except EngineError as exc:
        rows.append((f"builder {builder or '(current)'}", False, str(exc)))
        return rows
    rows += b.facts()
    platforms = b.platforms
    arm = any("arm64" in p for p in platforms) or os.uname().machine == "aarch64"
    rows.append(
        (
            "linux/arm64 emulation",
            arm,
            "available" if arm else "install qemu-user-static + binfmt-support",
        )
    )
    for host in sorted({r.split("/", 1)[0] for r in registries}):
        ok = _registry_reachable(host)
        rows.append(
            (
                f"registry {host}",
                ok,
                "answers /v2/" if ok else "unreachable; start it ('make engine') or log in",
            )
        )
    return rows


def _registry_reachable(host: str) -> bool:
    import urllib.error
    import urllib.request

    scheme = "http" if host.startswith(("127.", "localhost")) else "https"
    try:
        urllib.request.urlopen(f"{scheme}://{host}/v2/", timeout=5)
    except urllib.error.HTTPError as exc:
        return exc.code == 401  # a registry asking for credentials is reachable
    except (OSError, ValueError):
        return False
    return True
