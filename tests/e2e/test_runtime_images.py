"""The default config's images, built by a real bake, pushed, pulled and run."""

from __future__ import annotations

import json
import os

import pytest

from tests.e2e import registry
from tests.e2e.conftest import BIN, sh
from tests.e2e.images import ALL, EMULATED_SKIPS, IMAGES, Image

ARCH = {"linux/amd64": ("x86_64", 0x3E), "linux/arm64": ("aarch64", 0xB7)}
NATIVE = "linux/arm64" if os.uname().machine == "aarch64" else "linux/amd64"


def ref_of(baked: dict[str, object], img: Image) -> str:
    runtime = baked["runtime"]
    assert isinstance(runtime, dict)
    return str(runtime[img.base])


def run_in(ref: str, platform: str, entrypoint: str, *args: str) -> str:
    """Run one program in a freshly pulled image for ``platform``; its stdout."""
    return sh(
        "docker",
        "run",
        "--rm",
        "--pull",
        "always",
        "--platform",
        platform,
        "--entrypoint",
        entrypoint,
        ref,
        *args,
    ).stdout


def cases(attr: str) -> list[object]:
    out = []
    for img in IMAGES:
        for p in getattr(img, attr) if attr else ALL:
            out.append(pytest.param(img, p, id=f"{img.name}-{p.split('/')[1]}"))
    return out


def test_registry_has_every_platform(baked: dict[str, object]) -> None:
    assert set(registry.platform_manifests(str(baked["deps"]))) == set(ALL)
    for img in IMAGES:
        assert set(registry.platform_manifests(ref_of(baked, img))) == set(ALL), img.base


@pytest.mark.parametrize(("img", "platform"), cases(""))
def test_bundled_binaries_match_platform(
    baked: dict[str, object], img: Image, platform: str
) -> None:
    """`uname -m` seen by the bundled Python, and the ELF header of a bundled binary."""
    machine, e_machine = ARCH[platform]
    probe = (
        "import platform, struct;"
        "h = open('/openhands/usr/bin/bash', 'rb').read(20);"
        "print(platform.machine(), struct.unpack('<H', h[18:20])[0])"
    )
    stdout = run_in(ref_of(baked, img), platform, "/openhands/bin/oh-python", "-c", probe)
    assert stdout.split() == [machine, str(e_machine)]


@pytest.mark.parametrize(("img", "platform"), cases(""))
def test_base_programs_still_work(baked: dict[str, object], img: Image, platform: str) -> None:
    assert img.own_program is not None
    argv, expected = img.own_program
    stdout = run_in(ref_of(baked, img), platform, argv[0], *argv[1:])
    if expected:
        assert stdout == expected
    else:
        assert stdout.split()


@pytest.mark.parametrize(("img", "platform"), cases("verify_on"))
def test_verify(baked: dict[str, object], img: Image, platform: str) -> None:
    """`oh-builder verify` passes every check (the list is in docs/compatibility.md)."""
    skips = [] if platform == NATIVE else list(EMULATED_SKIPS.get(platform, ()))
    args = [
        str(BIN / "oh-builder"),
        "verify",
        ref_of(baked, img),
        "--platform",
        platform,
        "--json",
        "--alive-timeout",
        "60" if platform == NATIVE else "300",
    ]
    for s in skips:
        args += ["--skip", s]
    r = sh(*args, check=False, timeout=1800)
    report = json.loads(r.stdout)
    failed = {c["name"]: c["detail"] for c in report["checks"] if not c["ok"]}
    assert r.returncode == 0 and not failed, failed
    record(img, platform, report)


def record(img: Image, platform: str, report: dict[str, object]) -> None:
    """Keep the verify results; scripts/compat writes docs/compatibility.md from them."""
    out = os.environ.get("OH_E2E_RESULTS")
    if out:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, f"{img.name}-{platform.split('/')[1]}.json"), "w") as f:
            json.dump({"base": img.base, "platform": platform, **report}, f, indent=2)


def test_bundle_layers_shared(baked: dict[str, object]) -> None:
    """The system, venv and browser layers are each one blob on every base of a
    platform (named by each image's history: their COPY names them)."""
    from tests.bench.compare import runtime_layers

    seen: dict[tuple[str, str], set[str]] = {}
    for img in IMAGES:
        ref = ref_of(baked, img)
        for platform in registry.platform_manifests(ref):
            layers = runtime_layers(ref, platform)
            for name in ("system", "venv", "browser"):
                seen.setdefault((platform, name), set()).add(layers[name])
    assert {p for p, _ in seen} == set(ALL)
    for key, digests in seen.items():
        assert len(digests) == 1, (key, digests)
