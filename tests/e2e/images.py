"""The one list of runtime images the end-to-end suite checks, and how.

The images come from the sample profile (profiles/sample.toml), built by one real
`oh-builder bake --push`. Add a base there and a row here to have every check run on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL = ("linux/amd64", "linux/arm64")


@dataclass(frozen=True)
class Image:
    base: str  # as written in profiles/sample.toml (and builder.toml)
    name: str  # short id for test names
    verify_on: tuple[str, ...] = ALL  # platforms `oh-builder verify` runs on
    # The base's own program that must keep working: (argv, expected stdout).
    own_program: tuple[tuple[str, ...], str] | None = None
    extra: dict[str, str] = field(default_factory=dict)


# Chromium crashes under qemu-user (arm64 on an amd64 host: "uncaught target signal 11"),
# so on emulated arm64 `verify --skip browser`; the arm64 browser was checked by hand on
# the bundle build (see docs/compatibility.md).
EMULATED_SKIPS = {"linux/arm64": ("browser",)}
# verify under emulation takes minutes an image: on arm64 it runs on the hardest base (musl
# with a preload of its own); every base's arm64 image still runs the bundled Python and a
# program of the base's own (test_runtime_images.py), and the deps build's smoke checks.
AMD64_ONLY = ("linux/amd64",)

IMAGES = (
    Image(
        "debian:bookworm",
        "bookworm",
        verify_on=AMD64_ONLY,
        own_program=(("/bin/ls", "/openhands"), ""),
    ),
    Image(
        "debian:trixie",
        "trixie",
        verify_on=AMD64_ONLY,
        own_program=(("/bin/ls", "/openhands"), ""),
    ),
    Image(
        "127.0.0.1:5000/oh-test/busybox:static",
        "busybox",
        verify_on=AMD64_ONLY,
        own_program=(("/bin/echo", "base echo"), "base echo\n"),
    ),
    Image(
        "127.0.0.1:5000/oh-test/musl:latest",
        "musl",
        own_program=(("/usr/bin/hello",), "hello from the base\n"),
    ),
    Image(
        "127.0.0.1:5000/oh-test/noshell:latest",
        "noshell",
        verify_on=AMD64_ONLY,
        own_program=(("/usr/bin/hello",), "hello from the base\n"),
    ),
    Image(
        "127.0.0.1:5000/oh-test/uid1000:bookworm",
        "uid1000",
        verify_on=AMD64_ONLY,
        own_program=(("/usr/bin/id", "-un", "1000"), "pn\n"),
    ),
)
