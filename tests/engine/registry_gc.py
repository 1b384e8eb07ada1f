"""Free the local registry's disk: delete the image tags under openhands/ and oh-bench/
that the repository's configs do not produce now (earlier versions, test variants,
benchmark images), keep every cache tag and base image, then garbage-collect.

Every suite run and benchmark pushes images under new content-addressed tags and the
registry keeps them all; on a machine with ~100 GB of disk that fills up within a few
sessions. Run by the e2e `engine` fixture when free space is short, or by hand:
`python tests/engine/registry_gc.py` (stops and restarts the registry for the GC).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tests.e2e.registry import ACCEPT  # noqa: E402

REGISTRY = "http://127.0.0.1:5000"
STATE = Path(os.environ.get("OH_ENGINE_STATE", "/var/lib/oh-builder-engine"))
PREFIXES = ("openhands/", "oh-bench/")
CONFIGS = ("builder.toml", "profiles/sample.toml", "profiles/openhands-v0.toml")


def _get(path: str) -> tuple[bytes, dict[str, str]]:
    req = urllib.request.Request(f"{REGISTRY}/v2/{path}", headers={"Accept": ACCEPT})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read(), dict(r.headers)


def manifests(repo: str, ref: str) -> set[str]:
    """The digest of repo:ref and of every manifest it lists."""
    try:
        body, headers = _get(f"{repo}/manifests/{ref}")
    except OSError:
        return set()
    out = {headers["Docker-Content-Digest"]}
    for m in json.loads(body).get("manifests", []):
        out.add(m["digest"])
    return out


def revisions(repo: str) -> set[str]:
    """Every manifest digest the registry stores for ``repo`` (tagged or not)."""
    root = STATE / "registry/docker/registry/v2/repositories" / repo / "_manifests/revisions"
    return {f"{algo.name}:{d.name}" for algo in root.glob("*") for d in algo.iterdir()}


def current_refs() -> set[str]:
    """repo:tag of every image the repository's configs produce now."""
    oh = [sys.executable, "-m", "builder", "tags", "--json", "-c"]
    refs: set[str] = set()
    for config in CONFIGS:
        r = subprocess.run([*oh, str(REPO / config)], capture_output=True, text=True, cwd=REPO)
        if r.returncode != 0:
            continue  # a profile not fetched here: nothing of it to keep
        data = json.loads(r.stdout)
        for ref in [data["deps"], *data["runtime"].values()]:
            refs.add(ref.split("/", 1)[1])
    return refs


def main() -> None:
    keep_refs = current_refs()
    catalog = json.loads(_get("_catalog?n=1000")[0])["repositories"]
    ours = [r for r in catalog if r.startswith(PREFIXES)]
    keep: set[tuple[str, str]] = set()
    stale: set[tuple[str, str]] = set()
    for repo in ours:
        tags = json.loads(_get(f"{repo}/tags/list")[0]).get("tags") or []
        for tag in tags:
            # Cache tags (one per target and branch) are rewritten in place: keep them.
            wanted = repo.endswith("-cache") or f"{repo}:{tag}" in keep_refs
            (keep if wanted else stale).update((repo, d) for d in manifests(repo, tag))
        # Manifests no tag names any more (a rewritten cache or --force tag) hold their
        # blobs until deleted.
        stale.update((repo, d) for d in revisions(repo))
    doomed = sorted(stale - keep)
    for repo, digest in doomed:
        req = urllib.request.Request(f"{REGISTRY}/v2/{repo}/manifests/{digest}", method="DELETE")
        with contextlib.suppress(OSError):  # already gone (shared by two stale tags)
            urllib.request.urlopen(req, timeout=60).close()
    print(f"registry-gc: kept {len(keep_refs)} current tag(s); deleted {len(doomed)} manifest(s)")
    before = _disk()
    pid_file = STATE / "registry.pid"
    pid = int(pid_file.read_text()) if pid_file.exists() else 0
    if pid:
        os.kill(pid, signal.SIGTERM)
        time.sleep(2)
    subprocess.run(
        ["docker-registry", "garbage-collect", str(STATE / "registry.yml")],
        stdout=subprocess.DEVNULL,
        check=True,
    )
    subprocess.run(["bash", str(REPO / "tests/engine/engine.sh")], check=True)
    print(f"registry-gc: registry storage {before / 1e9:.1f} GB -> {_disk() / 1e9:.1f} GB")


def _disk() -> int:
    root = STATE / "registry"
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


if __name__ == "__main__":
    main()
