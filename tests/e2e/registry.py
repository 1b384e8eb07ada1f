"""Read manifests and blobs from the local registry over its HTTP API."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


def _split(ref: str) -> tuple[str, str, str]:
    host, rest = ref.split("/", 1)
    repo, tag = rest.rsplit(":", 1) if "@" not in rest else rest.split("@", 1)
    return host, repo, tag


def get(ref: str, digest: str | None = None) -> dict[str, Any]:
    host, repo, tag = _split(ref)
    req = urllib.request.Request(
        f"http://{host}/v2/{repo}/manifests/{digest or tag}", headers={"Accept": ACCEPT}
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)  # type: ignore[no-any-return]


def platform_manifests(ref: str) -> dict[str, dict[str, Any]]:
    """``{"linux/amd64": manifest, …}`` for an index (attestation manifests skipped)."""
    index = get(ref)
    out: dict[str, dict[str, Any]] = {}
    for m in index.get("manifests", []):
        p = m.get("platform", {})
        if p.get("os") == "unknown":
            continue
        key = f"{p['os']}/{p['architecture']}" + (f"/{p['variant']}" if p.get("variant") else "")
        out[key] = get(ref, m["digest"])
    return out


def exists(ref: str) -> bool:
    try:
        get(ref)
    except Exception:
        return False
    return True


DATA = (
    Path(os.environ.get("OH_REGISTRY_DATA", "/var/lib/oh-builder-engine/registry"))
    / "docker/registry/v2/blobs"
)


def storage() -> tuple[int, int]:
    """(blobs, bytes) the local registry stores on disk (tests/engine/engine.sh's registry)."""
    if not DATA.is_dir():
        raise AssertionError(f"{DATA}: no registry storage here; run 'make engine'")
    sizes = [p.stat().st_size for p in DATA.rglob("data") if p.is_file()]
    return len(sizes), sum(sizes)


def _send(method: str, url: str, body: bytes = b"", content_type: str = "") -> None:
    req = urllib.request.Request(url, data=body or None, method=method)
    if content_type:
        req.add_header("Content-Type", content_type)
    with urllib.request.urlopen(req, timeout=30):
        pass


def copy(src: str, dst_repo: str, tags: Iterable[str]) -> str:
    """Put the index ``src`` (host/repo:tag, same host) under ``tags`` of ``dst_repo``:
    blobs mounted, platform manifests pushed by digest, the index under every tag; its
    digest. What a base image update looks like to a registry's clients."""
    host, repo, tag = _split(src)
    base = f"http://{host}/v2"
    req = urllib.request.Request(f"{base}/{repo}/manifests/{tag}", headers={"Accept": ACCEPT})
    with urllib.request.urlopen(req, timeout=30) as r:
        index, index_type = r.read(), r.headers["Content-Type"]
        digest = r.headers["Docker-Content-Digest"]
    for m in json.loads(index)["manifests"]:
        req = urllib.request.Request(
            f"{base}/{repo}/manifests/{m['digest']}", headers={"Accept": ACCEPT}
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            manifest, manifest_type = r.read(), r.headers["Content-Type"]
        doc = json.loads(manifest)
        for blob in [doc["config"], *doc.get("layers", [])]:
            _send("POST", f"{base}/{dst_repo}/blobs/uploads/?mount={blob['digest']}&from={repo}")
        _send("PUT", f"{base}/{dst_repo}/manifests/{m['digest']}", manifest, manifest_type)
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda t: _send("PUT", f"{base}/{dst_repo}/manifests/{t}", index, index_type),
                tags,
            )
        )
    return str(digest)


def image_config(ref: str, platform: str = "linux/amd64") -> dict[str, Any]:
    """The image config (labels, env, …) of one platform of the index ``ref``."""
    host, repo, _ = _split(ref)
    digest = platform_manifests(ref)[platform]["config"]["digest"]
    with urllib.request.urlopen(f"http://{host}/v2/{repo}/blobs/{digest}", timeout=30) as r:
        return json.load(r)  # type: ignore[no-any-return]
