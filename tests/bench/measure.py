"""What the benchmark measures on the real engine and registry: one bake's wall time and
steps, the bytes it pushed (from the registry's access log), the registry's storage
growth, and image sizes (compressed from the manifests, uncompressed by reading the
layers back from the registry's storage)."""

from __future__ import annotations

import os
import re
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from builder import engine
from builder.errors import BuildError
from builder.progress import PlainParser, TargetResult, Tracker
from tests.e2e import registry

REGISTRY_LOG = Path(os.environ.get("OH_REGISTRY_LOG", "/var/log/oh-builder/registry.log"))
_UPLOAD = re.compile(
    r'"PUT /v2/(?P<repo>\S+?)/blobs/uploads/\S*?[?&]digest=sha256%3A(?P<hex>[0-9a-f]{64})\S*'
    r' HTTP/1\.1" 201'
)
_UNPACK = re.compile(r"^#\d+ unpacking to \S+ ([0-9.]+)s done$")
_MANIFEST = re.compile(r'"PUT /v2/(?P<repo>\S+?)/manifests/\S+ HTTP/1\.1" 201')


@dataclass
class Result:
    """One scenario of one approach."""

    approach: str
    scenario: str
    ok: bool = True
    seconds: float = 0.0
    targets: int = 0
    steps_cached: int = 0
    steps_total: int = 0
    pushed_image_bytes: int = 0
    pushed_cache_bytes: int = 0
    blobs_uploaded: int = 0
    manifests_pushed: int = 0
    registry_growth_bytes: int = 0
    uploaded: list[str] = field(default_factory=list)  # sha256 hex of image blobs
    not_cached: list[str] = field(default_factory=list)  # "target: step" that ran
    unpack_seconds: float = 0.0  # docker driver: storing pushed images locally too
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 1)
        data["unpack_seconds"] = round(self.unpack_seconds, 1)
        return data


def blob_path(hex_digest: str) -> Path:
    return registry.DATA / "sha256" / hex_digest[:2] / hex_digest / "data"


def blob_size(hex_digest: str) -> int:
    try:
        return blob_path(hex_digest).stat().st_size
    except OSError:
        return 0


def log_offset() -> int:
    return REGISTRY_LOG.stat().st_size if REGISTRY_LOG.exists() else 0


def pushes_since(offset: int, cache_repo: str) -> tuple[int, int, int, int, list[str]]:
    """(image bytes, cache bytes, blobs, manifests, image blob digests) uploaded since
    ``offset`` in the registry's access log. A blob the registry already had is not
    uploaded again (buildx asks first), so these are the bytes that really moved."""
    with REGISTRY_LOG.open("rb") as f:
        f.seek(offset)
        text = f.read().decode("utf-8", "replace")
    cache_repo = cache_repo.split("/", 1)[1]  # the log has paths, not hosts
    image = cache = blobs = manifests = 0
    digests: list[str] = []
    for line in text.splitlines():
        if m := _UPLOAD.search(line):
            size = blob_size(m.group("hex"))
            blobs += 1
            if m.group("repo") == cache_repo:
                cache += size
            else:
                image += size
                digests.append(m.group("hex"))
        elif _MANIFEST.search(line):
            manifests += 1
    return image, cache, blobs, manifests, digests


def bake(
    result: Result,
    bake_file: Path,
    targets: list[str],
    *,
    cache_repo: str,
    log: Path,
) -> Result:
    """Run one real ``docker buildx bake --push`` and fill in ``result``."""
    offset = log_offset()
    before = registry.storage()[1]
    results = {t: TargetResult(name=t, ref="", platforms=()) for t in targets}
    tracker = Tracker(results, targets)
    parser = PlainParser(tracker)
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with log.open("w") as f:
        try:
            for line in engine.bake_stream(bake_file, targets, push=True):
                parser.feed(line)
                f.write(line + "\n")
                if m := _UNPACK.search(line):
                    result.unpack_seconds += float(m.group(1))
        except BuildError as exc:
            result.ok = False
            lines = [ln for r in results.values() for ln in r.log if "ERROR" in ln]
            result.note = (lines[-1] if lines else str(exc))[:300]
    result.seconds = time.monotonic() - start
    time.sleep(0.5)  # the registry writes its access log line after the response
    result.targets = len(targets)
    result.steps_total = sum(len(r.steps) for r in results.values())
    result.steps_cached = sum(len(r.cached) for r in results.values())
    result.not_cached = sorted(
        f"{r.name}: {tracker.vertices[k].label}"
        for r in results.values()
        for k in r.steps - r.cached
    )
    (
        result.pushed_image_bytes,
        result.pushed_cache_bytes,
        result.blobs_uploaded,
        result.manifests_pushed,
        result.uploaded,
    ) = pushes_since(offset, cache_repo)
    result.registry_growth_bytes = registry.storage()[1] - before
    return result


_UNCOMPRESSED: dict[str, int] = {}


def uncompressed_size(hex_digest: str) -> int:
    """Bytes of a layer once decompressed (gzip, as BuildKit pushes them)."""
    if hex_digest not in _UNCOMPRESSED:
        total = 0
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        with blob_path(hex_digest).open("rb") as f:
            while chunk := f.read(1 << 20):
                total += len(d.decompress(chunk))
        _UNCOMPRESSED[hex_digest] = total + len(d.flush())
    return _UNCOMPRESSED[hex_digest]


def _manifest(ref: str, platform: str) -> dict[str, Any]:
    top = registry.get(ref)
    if "layers" in top:  # a single-platform manifest, not an index
        return top
    return registry.platform_manifests(ref)[platform]


def image_size(ref: str, platform: str = "linux/amd64") -> dict[str, int]:
    """Compressed and uncompressed bytes of one platform of ``ref`` (all its layers)."""
    manifest = _manifest(ref, platform)
    layers = [layer["digest"].split(":", 1)[1] for layer in manifest["layers"]]
    return {
        "layers": len(layers),
        "compressed": sum(int(layer["size"]) for layer in manifest["layers"]),
        "uncompressed": sum(uncompressed_size(h) for h in layers),
        "largest_layer_compressed": max(int(layer["size"]) for layer in manifest["layers"]),
    }


def layer_digests(ref: str, platform: str = "linux/amd64") -> list[str]:
    manifest = _manifest(ref, platform)
    return [layer["digest"].split(":", 1)[1] for layer in manifest["layers"]]
