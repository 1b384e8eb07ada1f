"""Capabilities a profile can ask for, as data: what each adds to the bundle. Read by
the config parser (deps.capabilities), the deps build (packages, programs collected),
the labels and docs/config.md. A server kind may require some (builder.servers)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Capability:
    name: str
    summary: str
    packages: tuple[str, ...]  # Debian packages (target architecture) it unpacks
    programs: tuple[str, ...]  # what collect.py gathers into the bundle for it


CAPABILITIES: dict[str, Capability] = {
    c.name: c
    for c in (
        Capability(
            name="browser",
            summary="Chromium under /openhands/browser (oh-chromium, and `chromium` last "
            "on PATH for OpenHands' browser tools), the libraries it needs beyond the "
            "core, fonts; Playwright's links to it are in the venv",
            packages=("chromium", "fonts-dejavu-core", "fontconfig"),
            programs=("chromium",),
        ),
    )
}
DEFAULT_CAPABILITIES = ("browser",)
