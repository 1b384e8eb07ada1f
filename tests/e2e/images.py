"""The one list of runtime images the end-to-end suite builds, and what it checks on each.

Add a base here (and to the e2e config) to have every check run on it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Image:
    base: str  # as written in the config
    platforms: tuple[str, ...]
    has_shell: bool = True
    debian: bool = False


IMAGES = (
    Image("debian:bookworm", ("linux/amd64", "linux/arm64"), debian=True),
    Image("127.0.0.1:5000/oh-test/busybox:static", ("linux/amd64",)),
)
