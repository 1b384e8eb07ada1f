"""Scenario timings for the e2e report.

A module of its own so that the conftest (which pytest may import under another name)
and the tests share one TIMINGS dict.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

TIMINGS: dict[str, str] = {}


@contextlib.contextmanager
def timed(label: str) -> Iterator[dict[str, str]]:
    """Time a scenario for the e2e timings section of the test report (and timings.json).

    Yields a dict where the scenario can add figures of its own (shown after the time).
    """
    extra: dict[str, str] = {}
    start = time.monotonic()
    yield extra
    figures = ", ".join(f"{k} {v}" for k, v in extra.items())
    TIMINGS[label] = f"{time.monotonic() - start:7.1f} s" + (f"  ({figures})" if figures else "")
