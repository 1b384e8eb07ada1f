"""Reading buildx's plain log: which steps came from a cache rather than running."""

from __future__ import annotations

import re


def from_cache(log: str) -> set[str]:
    """Vertex numbers (``"23"`` for ``#23``) of the steps that did not run, in a build
    that succeeded: CACHED (the docker driver, or a daemon's own cache); on a BuildKit
    daemon importing the registry cache, a step whose layers are pulled under it (it
    says DONE, not CACHED), or whose layers were already there (DONE within a second and
    nothing else: a RUN step that ran shows its command's output, or took longer); a
    `COPY --link` of such results, done at once; and a step CANCELED because
    a later cached step made it unnecessary."""
    cached = set(re.findall(r"^#(\d+) CACHED$", log, re.M))
    cached |= set(re.findall(r"^#(\d+) (?:extracting )?sha256:[0-9a-f]{64} ", log, re.M))
    links = set(re.findall(r"^#(\d+) \[[^\]]*\] COPY --link ", log, re.M))
    cached |= links & set(re.findall(r"^#(\d+) DONE 0\.0s$", log, re.M))
    cached |= set(re.findall(r"^#(\d+) CANCELED$", log, re.M))
    runs = set(re.findall(r"^#(\d+) \[[^\]]*\] RUN ", log, re.M))
    printed = set(re.findall(r"^#(\d+) \d+\.\d+ ", log, re.M))
    done = set(re.findall(r"^#(\d+) DONE 0\.\ds$", log, re.M))
    cached |= (runs & done) - printed
    return cached


def assert_all_cached(log: str) -> None:
    """Every RUN/COPY step of the deps build (which succeeded) came from a cache."""
    steps = dict(
        re.findall(
            r"^#(\d+) \[[^\]]*(?:host|requirements|python-debs|system|wheels|venv|check|deps)"
            r"[^\]]*\] "
            r"(RUN|COPY)",
            log,
            re.M,
        )
    )
    assert steps, "no deps steps in the log"
    missing = sorted(set(steps) - from_cache(log), key=int)
    assert not missing, f"steps not CACHED: {missing}"
