"""The default config's images, built by a real bake, pushed, pulled and run."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
import uuid

import pytest

from tests.e2e import registry
from tests.e2e.conftest import sh
from tests.e2e.images import IMAGES, Image

CASES = [(img, p) for img in IMAGES for p in img.platforms]
IDS = [f"{img.base.rsplit('/', 1)[-1]}-{p.split('/')[1]}" for img, p in CASES]
ARCH = {"linux/amd64": ("x86_64", 0x3E), "linux/arm64": ("aarch64", 0xB7)}


def ref_of(baked: dict[str, object], img: Image) -> str:
    runtime = baked["runtime"]
    assert isinstance(runtime, dict)
    return str(runtime[img.base])


def test_registry_has_every_platform(baked: dict[str, object]) -> None:
    deps = registry.platform_manifests(str(baked["deps"]))
    assert set(deps) == {"linux/amd64", "linux/arm64"}
    for img in IMAGES:
        assert set(registry.platform_manifests(ref_of(baked, img))) == set(img.platforms)


@pytest.mark.parametrize(("img", "platform"), CASES, ids=IDS)
def test_bundled_binaries_match_platform(
    baked: dict[str, object], img: Image, platform: str
) -> None:
    """`uname -m` seen by the bundled Python and the ELF header of a bundled binary."""
    ref = ref_of(baked, img)
    machine, e_machine = ARCH[platform]
    probe = (
        "import platform, struct;"
        "h = open('/openhands/usr/bin/bash', 'rb').read(20);"
        "print(platform.machine(), struct.unpack('<H', h[18:20])[0])"
    )
    r = sh("docker", "run", "--rm", "--pull", "always", "--platform", platform,
           "--entrypoint", "/openhands/bin/oh-python", ref, "-c", probe)
    assert r.stdout.split() == [machine, str(e_machine)]


def _wait_alive(port: int, timeout: float = 60) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/alive", timeout=2) as r:
                if json.load(r) == {"status": "ok"}:
                    return time.monotonic() - start
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"/alive did not answer within {timeout} s")


@pytest.mark.parametrize(("img", "platform"), CASES, ids=IDS)
def test_runtime_image_starts(
    baked: dict[str, object], img: Image, platform: str, container: list[str]
) -> None:
    ref = ref_of(baked, img)
    name = f"oh-e2e-{uuid.uuid4().hex[:8]}"
    container.append(name)
    sh("docker", "run", "-d", "--pull", "always", "--platform", platform, "--name", name,
       "-p", "127.0.0.1::8000", ref)
    port = int(sh("docker", "port", name, "8000/tcp").stdout.strip().rsplit(":", 1)[1])
    _wait_alive(port, timeout=180 if platform != "linux/amd64" else 60)
    user = sh("docker", "exec", name, "/openhands/bin/oh-python", "-c",
              "import os; print(os.getuid(), os.getgid(), os.getcwd())").stdout.split()
    assert user == ["1000", "1000", "/workspace"]
    env = sh("docker", "exec", name, "/openhands/bin/oh-python", "-c",
             "import os; print(os.environ.get('LD_LIBRARY_PATH', '-'))").stdout.strip()
    assert env == "-"
    if img.debian:
        assert sh("docker", "exec", name, "ls", "/").returncode == 0
        assert "apt" in sh("docker", "exec", name, "apt-get", "--version").stdout
    if img.has_shell:
        assert sh("docker", "exec", name, "/bin/sh", "-c", "true").returncode == 0


def test_openhands_layer_shared(baked: dict[str, object]) -> None:
    """COPY --link of /openhands gives the same layer on every base of a platform."""
    layers: dict[str, set[str]] = {}
    for img in IMAGES:
        for platform, manifest in registry.platform_manifests(ref_of(baked, img)).items():
            digests = [layer["digest"] for layer in manifest["layers"]]
            layers.setdefault(platform, set()).add(max(
                manifest["layers"], key=lambda layer: layer["size"])["digest"])
            assert digests
    for platform, digests in layers.items():
        assert len(digests) == 1, (platform, digests)
