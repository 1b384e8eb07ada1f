"""Smoke checks of one bundle layer: the only deps steps that run the target's programs
(under emulation when the target is another architecture). Each layer has its own check
stage, cached with that layer, mounted on the system layer as in a runtime image.

system   1. Every NEEDED entry of every ELF file of the layer resolves inside the bundle
            (read, not run); so for the other layers.
         2. Every wrapper starts its program with an empty environment, bounded in time.
            A program that cannot start fails the build, emulated or not.
venv     3. The server's entrypoint module imports and can run with -m (unless it is the
            app's own source, which is not part of this image).
         4. Playwright, when the venv has it, looks for its browser where wheels.py linked
            it (/openhands/browser/bin/oh-chromium, which the browser check runs).
browser  5. Chromium renders a page natively. qemu-user cannot run Chromium (it dies with
            "uncaught target signal 11" before it starts), so under emulation the build
            log says so and step 1 is the check that stands for it.

Usage: python3 check.py system|venv|browser ROOT BUILDPLATFORM TARGETPLATFORM REPORT MODULE|-
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from relocate import check as check_elves

STDLIB = "ssl, sqlite3, ctypes, lzma, bz2, zlib, json, encodings.idna"  # native modules
# zoneinfo from the bundled tzdata alone (no TZPATH: as on a base without zone files)
TZ_CHECK = (
    "import zoneinfo, datetime; zoneinfo.reset_tzpath([]); z = zoneinfo.ZoneInfo('Europe/Paris'); "
    "print(datetime.datetime(2026, 7, 1, tzinfo=z).utcoffset())"
)
OH_CHROMIUM = "/openhands/browser/bin/oh-chromium"  # the browser layer's entry point
PROBE = (
    "import os\nfrom playwright.sync_api import sync_playwright\n"
    "with sync_playwright() as p:\n"
    "    path = p.chromium.executable_path\n"
    "    print(path, os.readlink(path) if os.path.islink(path) else '(not a link)')\n"
)


def run(root: Path, timeout: float, *args: str) -> tuple[int, str, float]:
    t = time.monotonic()
    try:
        exe = root / args[0] if "/" in args[0] else root / "bin" / args[0]
        r = subprocess.run(
            [str(exe), *args[1:]],
            capture_output=True,
            text=True,
            env={},
            cwd="/",
            timeout=timeout,
            check=False,
        )
        return r.returncode, r.stdout + r.stderr, time.monotonic() - t
    except subprocess.TimeoutExpired:
        return -1, f"no answer within {timeout:.0f} s", time.monotonic() - t


ENTRYPOINT = (
    "import importlib, importlib.util, sys\nm = sys.argv[1]\nimportlib.import_module(m)\n"
    "if importlib.util.find_spec(m + '.__main__') is None and "
    "importlib.util.find_spec(m).submodule_search_locations:\n"
    "    sys.exit(f'{m} is a package without __main__: python -m cannot run it')\n"
)


def run_all(root: Path, timeout: float, checks: list[list[str]]) -> tuple[list[str], list[str]]:
    lines, failed = [], []
    for c in checks:
        rc, out, secs = run(root, timeout, *c)
        lines.append(f"{c[0]}: rc={rc} in {secs:.1f}s {out.strip().splitlines()[:1]}")
        if rc != 0:
            failed.append(f"{' '.join(c)} failed ({rc}):\n{out[-2000:]}")
    return lines, failed


def check_system(root: Path, timeout: float) -> tuple[list[str], list[str]]:
    checks: list[list[str]] = [
        ["python/bin/python3", "-I", "-c", f"import {STDLIB}"],
        ["python/bin/python3", "-I", "-c", TZ_CHECK],
        ["oh-bash", "-c", "true"],
    ]
    for w, arg in (
        ("oh-tmux", "-V"),
        ("oh-git", "--version"),
        ("oh-rg", "--version"),
        ("oh-jq", "--version"),
        ("oh-node", "--version"),
    ):
        if (root / "bin" / w).exists():
            checks.append([w, arg])
    return run_all(root, timeout, checks)


def check_venv(root: Path, timeout: float, module: str) -> tuple[list[str], list[str]]:
    lines, failed = run_all(root, timeout, [["oh-python", "-c", f"import {STDLIB}"]])
    if module != "-":
        rc, out, secs = run(root, timeout, "oh-python", "-c", ENTRYPOINT, module)
        lines.append(f"entrypoint {module}: rc={rc} in {secs:.1f}s")
        if rc != 0:
            failed.append(
                f"the entrypoint module {module} does not import from the locked "
                f"packages ({rc}); fix deps.entrypoint or the lock:\n{out[-2000:]}"
            )
    if any((root / "venv/lib").glob("python3.*/site-packages/playwright")):
        rc, out, secs = run(root, timeout, "oh-python", "-c", PROBE)
        lines.append(f"playwright: {out.strip()} ({secs:.1f}s)")
        if rc != 0 or not out.strip().endswith(OH_CHROMIUM):
            failed.append(f"Playwright's Chromium is not linked to {OH_CHROMIUM} ({rc}):\n{out}")
    return lines, failed


def check_browser(root: Path, timeout: float, emulated: bool) -> tuple[list[str], list[str]]:
    if emulated:
        msg = (
            "oh-chromium: not run under emulation (qemu-user cannot run Chromium); "
            "its ELF dependencies all resolve inside the bundle (check 1)"
        )
        return [msg], []
    rc, out, secs = run(
        root,
        timeout,
        "browser/bin/oh-chromium",
        "--headless",
        "--dump-dom",
        "data:text/html,<p>oh-check</p>",
    )
    failed = []
    if rc != 0 or "oh-check" not in out:
        failed.append(f"oh-chromium did not render a page ({rc}):\n{out[-2000:]}")
    return [f"oh-chromium: rc={rc} in {secs:.1f}s"], failed


# layer -> the directory it fills and the libraries its ELF files may load besides the
# system layer's
TREES: dict[str, tuple[str, tuple[str, ...]]] = {
    "system": ("", ()),
    "venv": ("venv", ("venv/oh-lib",)),
    "browser": ("browser", ("browser/lib",)),
}


def main(layer: str, root: Path, emulated: bool, report: Path, module: str) -> None:
    tree, own = TREES[layer]
    lib_dirs = [root / "lib", *[root / d for d in own]]
    # The layer's own ELF files (the system check has the others' mount points empty).
    check_elves(root, lib_dirs, tree=root / tree)
    timeout = 300.0 if emulated else 60.0
    if layer == "system":
        lines, failed = check_system(root, timeout)
    elif layer == "venv":
        lines, failed = check_venv(root, timeout, module)
    else:
        lines, failed = check_browser(root, timeout, emulated)
    lines.insert(0, f"elf: every NEEDED library of the {layer} layer resolves inside the bundle")
    print("\n".join(f"check: {layer}: {line}" for line in lines))
    if failed:
        sys.exit(f"check: {layer}: " + f"\ncheck: {layer}: ".join(failed))
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("ok\n")
    # The same marker layer every time: fixed mtimes on the report and its directories.
    for p in [report, *report.parents]:
        if p == Path("/"):
            break
        os.utime(p, (1_700_000_000, 1_700_000_000))


if __name__ == "__main__":
    layer, root, build_platform, target_platform, report, module = sys.argv[1:7]
    main(layer, Path(root), build_platform != target_platform, Path(report), module)
