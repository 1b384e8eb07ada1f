"""Which branch's registry cache a build reads and writes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping

from builder.plan import FALLBACK_BRANCH

# CI variables, most specific first (a pull request's source branch before the ref).
CI_VARIABLES = (
    "GITHUB_HEAD_REF",
    "GITHUB_REF_NAME",
    "CI_COMMIT_REF_NAME",
    "BUILDKITE_BRANCH",
    "CIRCLE_BRANCH",
    "BRANCH_NAME",
)


def cache_branch(explicit: str | None, env: Mapping[str, str] | None = None) -> str:
    """--cache-branch, else a CI variable, else the git branch, else ``main``."""
    if explicit:
        return explicit
    env = os.environ if env is None else env
    for var in CI_VARIABLES:
        if env.get(var):
            return env[var]
    try:
        r = subprocess.run(
            ["git", "rev-parse", "--abbrev-ref", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return FALLBACK_BRANCH
    name = r.stdout.strip()
    return name if r.returncode == 0 and name and name != "HEAD" else FALLBACK_BRANCH
