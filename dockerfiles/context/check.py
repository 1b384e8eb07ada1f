"""Smoke checks of the assembled bundle: the only deps step that runs the target's
programs (under emulation when the target is another architecture).

1. Every NEEDED entry of every ELF file resolves inside the bundle (read, not run).
2. Every wrapper starts its program with an empty environment, each bounded in time.
   A program that cannot start fails the build, emulated or not.
3. The server's entrypoint module imports and can run with -m (unless it is the app's own
   source, which is not part of this image).
4. Playwright finds its browser (the links made by wheels.py).
5. Chromium renders a page natively. qemu-user cannot run Chromium (it dies with
   "uncaught target signal 11" before it starts), so under emulation the build log says
   so and step 1 is the check that stands for it.

Usage: python3 check.py ROOT browser|no-browser BUILDPLATFORM TARGETPLATFORM REPORT MODULE|-
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from relocate import check as check_elves

PROBE = (
    "import sys\nfrom playwright.sync_api import sync_playwright\n"
    "with sync_playwright() as p:\n"
    "    try:\n        p.chromium.launch().close()\n"
    "    except Exception as e:\n        print(e)\n"
)


def run(root: Path, timeout: float, *args: str) -> tuple[int, str, float]:
    t = time.monotonic()
    try:
        r = subprocess.run([str(root / "bin" / args[0]), *args[1:]], capture_output=True,
                           text=True, env={}, cwd="/", timeout=timeout, check=False)
        return r.returncode, r.stdout + r.stderr, time.monotonic() - t
    except subprocess.TimeoutExpired:
        return -1, f"no answer within {timeout:.0f} s", time.monotonic() - t


ENTRYPOINT = (
    "import importlib, importlib.util, sys\nm = sys.argv[1]\nimportlib.import_module(m)\n"
    "if importlib.util.find_spec(m + '.__main__') is None and "
    "importlib.util.find_spec(m).submodule_search_locations:\n"
    "    sys.exit(f'{m} is a package without __main__: python -m cannot run it')\n"
)


def main(root: Path, browser: bool, emulated: bool, report: Path, module: str) -> None:
    lib_dirs = [root / "lib", *[d for d in [root / "venv/oh-lib"] if d.is_dir()]]
    check_elves(root, lib_dirs)
    lines = ["elf: every NEEDED library resolves inside the bundle"]
    timeout = 300.0 if emulated else 60.0
    checks: list[list[str]] = [
        ["oh-python", "-c", "import ssl, sqlite3, ctypes, lzma, bz2, zlib, json, encodings.idna"],
        ["oh-bash", "-c", "true"],
    ]
    for w, arg in (("oh-tmux", "-V"), ("oh-git", "--version"), ("oh-rg", "--version"),
                   ("oh-jq", "--version"), ("oh-node", "--version")):
        if (root / "bin" / w).exists():
            checks.append([w, arg])
    failed = []
    for c in checks:
        rc, out, secs = run(root, timeout, *c)
        lines.append(f"{c[0]}: rc={rc} in {secs:.1f}s {out.strip().splitlines()[:1]}")
        if rc != 0:
            failed.append(f"{' '.join(c)} failed ({rc}):\n{out[-2000:]}")
    if module != "-":
        rc, out, secs = run(root, timeout, "oh-python", "-c", ENTRYPOINT, module)
        lines.append(f"entrypoint {module}: rc={rc} in {secs:.1f}s")
        if rc != 0:
            failed.append(f"the entrypoint module {module} does not import from the locked "
                          f"packages ({rc}); fix deps.entrypoint or the lock:\n{out[-2000:]}")
    if browser:
        rc, out, secs = run(root, timeout, "oh-python", "-c", PROBE)
        missing = re.findall(r"Executable doesn't exist at (\S+)", out)
        if missing:
            failed.append(f"Playwright looks for a browser at {missing}: not linked")
        lines.append(f"playwright: browser path found ({secs:.1f}s)")
        if emulated:
            msg = ("oh-chromium: not run under emulation (qemu-user cannot run Chromium); "
                   "its ELF dependencies all resolve inside the bundle (check 1)")
            lines.append(msg)
        else:
            rc, out, secs = run(root, timeout, "oh-chromium", "--headless", "--dump-dom",
                                "data:text/html,<p>oh-check</p>")
            lines.append(f"oh-chromium: rc={rc} in {secs:.1f}s")
            if rc != 0 or "oh-check" not in out:
                failed.append(f"oh-chromium did not render a page ({rc}):\n{out[-2000:]}")
    print("\n".join(f"check: {line}" for line in lines))
    if failed:
        sys.exit("check: " + "\ncheck: ".join(failed))
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("ok\n")
    os.utime(report, (1_700_000_000, 1_700_000_000))  # the same marker layer every time


if __name__ == "__main__":
    root, mode, build_platform, target_platform, report, module = sys.argv[1:7]
    main(Path(root), mode == "browser", build_platform != target_platform, Path(report), module)
