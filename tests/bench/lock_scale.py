"""How long `oh-builder lock` takes for N bases (SWE-bench has 2,294) against the local
registry: N tags are pushed once (the busybox test base's index under N tags of one
repository: one manifest request each, as N repositories would be), then `lock` and
`lock --check` run for real (`python -m tests.bench.lock_scale 2294`)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.e2e import registry
from tests.sample import sample_head

SRC = "127.0.0.1:5000/oh-test/busybox:static"
DST = "oh-bench/lock-scale"


def push_tags(n: int) -> float:
    """The busybox test base under tags task-0 … task-(n-1) of DST; seconds taken."""
    start = time.perf_counter()
    registry.copy(SRC, DST, [f"task-{i}" for i in range(n)])
    return time.perf_counter() - start


def main(n: int) -> dict[str, object]:
    pushed = push_tags(n)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "builder.toml"
        cfg.write_text(
            sample_head()
            + "".join(f'\n[[bases]]\nimage = "127.0.0.1:5000/{DST}:task-{i}"\n' for i in range(n))
        )
        oh = [sys.executable, "-m", "builder", "lock", "-q", "-c", str(cfg)]
        start = time.perf_counter()
        subprocess.run(oh, check=True)
        lock_s = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run([*oh, "--check"], check=True)
        check_s = time.perf_counter() - start
        lines = len(cfg.with_suffix(".lock").read_text().splitlines())
    return {
        "bases": n,
        "push_tags_seconds": round(pushed, 1),
        "lock_seconds": round(lock_s, 2),
        "lock_check_seconds": round(check_s, 2),
        "lock_file_lines": lines,
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2294), indent=2))
