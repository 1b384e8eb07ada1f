"""`oh-builder verify IMAGE`: start a runtime image and prove it works through its API.

The image says what it is (labels, builder/servers.py): its server kind names how it
is launched (as OpenHands' own launcher starts it) and the client module whose checks
run against it. Checks are plain functions over a small HTTP client, so they read like
the list in docs/compatibility.md. The container is always removed, also on Ctrl-C.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from builder import engine
from builder.checks import CheckResult, Target, run_all
from builder.errors import VerifyError
from builder.servers import CAPABILITIES_LABEL, KINDS, SERVER_LABEL, ServerKind
from builder.verify_v1 import new_key


def client(kind: ServerKind) -> ModuleType:
    return importlib.import_module(kind.client)


def every_check() -> tuple[str, ...]:
    """The names of all checks of all kinds, in order, without repeats."""
    return tuple(dict.fromkeys(c for k in KINDS.values() for c in client(k).CHECKS))


def image_kind(image: str, labels: dict[str, str]) -> ServerKind:
    name = labels.get(SERVER_LABEL)
    if name is None:
        raise VerifyError(
            f"{image}: no {SERVER_LABEL} label, so it was not built by this oh-builder; "
            "rebuild it with `oh-builder bake`"
        )
    if name not in KINDS:
        raise VerifyError(
            f"{image}: label {SERVER_LABEL}={name!r} names no server kind this oh-builder "
            f"knows ({', '.join(KINDS)}); verify it with the oh-builder that built it"
        )
    return KINDS[name]


def verify(
    image: str,
    *,
    platform: str | None = None,
    alive_timeout: float = 60,
    skip: frozenset[str] = frozenset(),
) -> list[CheckResult]:
    """Start ``image`` as its server kind's launcher does, run that kind's checks,
    always remove the container."""
    # Registry images are always pulled (a single-platform local copy must never stand in
    # for another platform); a local-only tag is used as it is.
    first = image.split("/", 1)[0]
    remote = "/" in image and ("." in first or ":" in first or first == "localhost")
    if remote:
        engine.pull_image(image, platform=platform)
    labels = engine.image_labels(image)
    kind = image_kind(image, labels)
    capabilities = frozenset(c for c in labels.get(CAPABILITIES_LABEL, "").split(",") if c)
    key = new_key()
    base_env = engine.image_env(image)
    container_id, port = engine.run_container(
        image,
        platform=platform,
        pull=False,
        **kind.launch.options(key),
    )
    try:
        target = Target(
            port=port,
            key=key,
            base_env=base_env,
            alive_timeout=alive_timeout,
            capabilities=capabilities,
        )
        module = client(kind)
        results = run_all(module.checks(target), skip, gates=module.GATES)
        if not results[0].ok:
            logs = engine.container_logs(container_id)
            results[0] = CheckResult(
                name=results[0].name,
                ok=False,
                detail=f"{results[0].detail}; logs: {logs[-500:]}",
                seconds=results[0].seconds,
            )
        return results
    finally:
        engine.remove_container(container_id)


def raise_on_failure(image: str, results: list[CheckResult]) -> None:
    failed = [r.name for r in results if not r.ok]
    if failed:
        raise VerifyError(f"{image}: {len(failed)} check(s) failed: {', '.join(failed)}")
