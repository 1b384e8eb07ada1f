"""Benchmark: plan and write the bake file for N SWE-bench-style bases (default 2,294),
then check that buildx accepts it. Prints JSON. Not a test: `make bench` runs it.

Usage: python -m tests.bench.plan_scale [N] [--no-buildx]
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from builder.config import load_config
from builder.lockfile import LockEntry, lock_path, locked_images, render_lock, write_lock
from builder.outdir import write_build_dir
from builder.plan import Selection
from builder.prepare import prepare
from tests.sample import sample_head

REPO = Path(__file__).resolve().parents[2]
REPOS = [
    "django/django",
    "astropy/astropy",
    "sympy/sympy",
    "scikit-learn/scikit-learn",
    "matplotlib/matplotlib",
    "pytest-dev/pytest",
    "sphinx-doc/sphinx",
    "psf/requests",
]


def config_text(n: int) -> str:
    head = sample_head()
    bases = []
    for i in range(n):
        owner, name = REPOS[i % len(REPOS)].split("/")
        image = f"docker.io/swebench/sweb.eval.x86_64.{owner}_1776_{name}-{10000 + i}:latest"
        bases.append(f'[[bases]]\nimage = "{image}"\nplatforms = ["linux/amd64"]\n')
    return head + "\n".join(bases)


def write_made_up_lock(config: Path) -> None:
    """Planning reads builder.lock; these SWE-bench names are in no registry here, so
    their digests are made up (tests/bench/lock_scale.py measures resolving for real)."""
    entries = {
        image: LockEntry(
            digest=f"sha256:{hashlib.sha256(image.encode()).hexdigest()}",
            platforms={
                "linux/amd64": f"sha256:{hashlib.sha256(b'a' + image.encode()).hexdigest()}"
            },
        )
        for image in locked_images(load_config(config))
    }
    write_lock(lock_path(config), render_lock(config.name, entries))


def main(n: int, buildx: bool) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(REPO / "app", work / "app", ignore=shutil.ignore_patterns("__pycache__"))
        (work / "builder.toml").write_text(config_text(n))
        write_made_up_lock(work / "builder.toml")
        start = time.perf_counter()
        cfg = load_config(work / "builder.toml")
        prepared = prepare(cfg, Selection(), build_dir=str(work / "build"))
        write_build_dir(work / "build", prepared.files)
        plan_s = time.perf_counter() - start
        shards = [len(prepare(cfg, Selection(shard=(i, 8))).plan.runtime) for i in range(1, 9)]
        result: dict[str, object] = {
            "bases": n,
            "plan_and_write_seconds": round(plan_s, 3),
            "bake_file_bytes": (work / "build" / "docker-bake.hcl").stat().st_size,
            "runtime_targets": len(prepared.plan.runtime),
            "bases_per_shard_of_8": shards,
        }
        if buildx:
            start = time.perf_counter()
            r = subprocess.run(
                ["docker", "buildx", "bake", "-f", str(work / "build/docker-bake.hcl"), "--print"],
                capture_output=True,
                text=True,
                check=False,
            )
            result["buildx_print_seconds"] = round(time.perf_counter() - start, 2)
            result["buildx_accepts"] = r.returncode == 0
            if r.returncode == 0:
                targets = json.loads(r.stdout)["target"]
                result["buildx_targets"] = len(targets)
            else:
                result["buildx_error"] = r.stderr.strip().splitlines()[-1:]
    return result


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    print(json.dumps(main(int(args[0]) if args else 2294, "--no-buildx" not in sys.argv), indent=2))
