"""What every server kind's checks share: the result type, running one check, and the
checks that look at the base rather than at the server (its programs, its
environment), over any client with ``sh(command) -> (exit code, output)``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

Check = tuple[str, Callable[[], str]]  # a name and a function returning its detail


@dataclass(frozen=True, kw_only=True)
class Target:
    """What a client's checks run against: the started container's port, its session
    key, the base image's environment, and what the image says it has."""

    port: int
    key: str
    base_env: dict[str, str]
    alive_timeout: float
    capabilities: frozenset[str]


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    seconds: float


class Shell(Protocol):
    def sh(self, command: str, timeout: float = 60) -> tuple[int, str]: ...


def expect(cond: bool, detail: str) -> None:
    if not cond:
        raise AssertionError(detail)


def run_one(name: str, fn: Callable[[], str], skip: frozenset[str]) -> CheckResult:
    """One check, timed; a failed expectation or an I/O error is a failed check."""
    if name in skip:
        return CheckResult(name=name, ok=True, detail="skipped", seconds=0.0)
    start = time.monotonic()
    try:
        detail, ok = fn(), True
    except (AssertionError, OSError, ValueError, KeyError) as exc:
        detail, ok = str(exc) or type(exc).__name__, False
    return CheckResult(name=name, ok=ok, detail=detail, seconds=time.monotonic() - start)


def run_all(checks: list[Check], skip: frozenset[str], *, gates: int = 1) -> list[CheckResult]:
    """Run ``checks`` in order; stop after a failure of one of the first ``gates``
    (alive, ready: nothing else can pass then)."""
    results: list[CheckResult] = []
    for i, (name, fn) in enumerate(checks):
        results.append(run_one(name, fn, skip))
        if i < gates and not results[-1].ok:
            break
    return results


def wait_until(answers: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until ``answers()`` is true (an I/O or decoding error counts as not yet);
    a failed check naming ``what`` after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if answers():
                return time.monotonic() - start
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout:.0f} s")


def base_checks(api: Shell, t: Target) -> list[Check]:
    """The checks that look at the base, the same for every server kind."""
    return [
        ("base programs", lambda: check_base_programs(api)),
        ("environment", lambda: check_environment(api, t.base_env)),
    ]


def check_base_programs(api: Shell) -> str:
    done = []
    code, out = api.sh("if [ -e /bin/sh ]; then /bin/sh -c true && echo sh; fi")
    expect(code == 0, f"/bin/sh -c true failed: {out[-200:]}")
    if "sh" in out.split():
        done.append("/bin/sh")
    code, out = api.sh("test -e /etc/debian_version && echo debian || true")
    if out.strip() == "debian":
        code, out = api.sh("ls / >/dev/null && apt-get --version")
        expect(code == 0 and out.startswith("apt "), f"ls/apt-get failed: {out[-200:]}")
        done += ["ls", "apt-get"]
    return ", ".join(done) + " work" if done else "base has no shell (nothing to run)"


# Variables the agent's shell must have exactly as the base has them (or not at all):
# the base's own settings, and what the bundle's wrappers set for their programs alone.
AGENT_ENV_VARS = (
    "LD_LIBRARY_PATH", "PYTHONHOME", "PYTHONPATH", "LD_PRELOAD", "SSL_CERT_FILE",
    "GCONV_PATH", "LOCPATH", "TERMINFO_DIRS", "PYTHONNOUSERSITE", "PLAYWRIGHT_BROWSERS_PATH",
    "OH_SET_VARS", "OH_KEEP_VARS",
)  # fmt: skip


def check_environment(api: Shell, base_env: dict[str, str]) -> str:
    _, out = api.sh(f'for v in {" ".join(AGENT_ENV_VARS)}; do echo "$v=${{!v-<unset>}}"; done')
    got = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    for var, value in got.items():
        want = base_env.get(var, "<unset>")
        expect(value == want, f"{var} is {value!r} in the agent's shell, base has {want!r}")
    return f"{', '.join(AGENT_ENV_VARS)} as the base has them"
