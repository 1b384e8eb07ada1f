"""Last step of the bundle: plain-name fallbacks, fonts.conf, Playwright's browser
paths, and a smoke test of every wrapper with an empty environment.

Usage: python3 finish.py ROOT ENTRYPOINT browser|no-browser [BUILDPLATFORM TARGETPLATFORM]

Under emulation (the two platforms differ) Chromium's smoke test only warns: Chromium
crashes under qemu-user (seen: "qemu: uncaught target signal 11"), natively it must pass.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

FALLBACKS = {"git": "oh-git", "rg": "oh-rg", "jq": "oh-jq", "tmux": "oh-tmux",
             "bash": "oh-bash", "python3": "oh-python", "node": "oh-node"}
FONTS_CONF = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <dir>/openhands/usr/share/fonts</dir>
  <cachedir>/tmp/oh-fontconfig-cache</cachedir>
  <config></config>
</fontconfig>
"""


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env={}, cwd="/", check=False)


def playwright_paths(root: Path) -> None:
    """Ask Playwright where it expects its browsers; point those paths at oh-chromium."""
    probe = (
        "import sys\nfrom playwright.sync_api import sync_playwright\n"
        "with sync_playwright() as p:\n"
        "    for kw in ({}, {'channel': 'chromium'}):\n"
        "        try:\n            p.chromium.launch(**kw).close()\n"
        "        except Exception as e:\n            print(e)\n"
    )
    out = run(root, str(root / "bin/oh-python"), "-c", probe)
    paths = set(re.findall(r"Executable doesn't exist at (\S+)", out.stdout + out.stderr))
    if not paths:
        sys.exit(f"finish: could not learn Playwright's browser paths:\n{out.stdout}{out.stderr}")
    for p in paths:
        exe = Path(p)
        exe.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(root / "bin/oh-chromium", exe)
        (exe.parent.parent / "INSTALLATION_COMPLETE").touch()
        (exe.parent.parent / "DEPENDENCIES_VALIDATED").touch()
    print(f"finish: Playwright browser paths -> oh-chromium: {sorted(paths)}")


def main(root: Path, entrypoint: str, browser: bool, emulated: bool) -> None:
    (root / "share/entrypoint").write_text(entrypoint + "\n")
    fallback = root / "fallback/bin"
    fallback.mkdir(parents=True, exist_ok=True)
    for w in (root / "bin").iterdir():  # drop wrappers whose tool is not bundled
        target = re.search(r"exec (/openhands/\S+)", w.read_text())
        if target and not Path(target.group(1)).exists():
            w.unlink()
    for name, wrapper in FALLBACKS.items():
        if (root / "bin" / wrapper).exists():
            os.symlink(f"../../bin/{wrapper}", fallback / name)
    # Everyday commands (ls, cat, rm, sh, …) from the static busybox, for bases without
    # them; they come last on PATH, so a base's own always win.
    applets = run(root, str(root / "usr/bin/busybox"), "--list").stdout.split()
    for applet in applets:
        if not (fallback / applet).exists() and applet not in ("busybox", "bash"):
            os.symlink("../../usr/bin/busybox", fallback / applet)
    if browser:
        (root / "etc/fonts").mkdir(parents=True, exist_ok=True)
        (root / "etc/fonts/fonts.conf").write_text(FONTS_CONF)
        playwright_paths(root)
    else:
        (root / "bin/oh-chromium").unlink(missing_ok=True)
    checks = [["oh-python", "-c", "import ssl, sqlite3, fastapi"],
              ["oh-bash", "-c", "true"]]
    for w, args in (("oh-tmux", "-V"), ("oh-git", "--version"), ("oh-rg", "--version"),
                    ("oh-jq", "--version"), ("oh-node", "--version")):
        if (root / "bin" / w).exists():
            checks.append([w, args])
    if browser:
        checks.append(["oh-chromium", "--headless", "--dump-dom", "about:blank"])
    for check in checks:
        r = run(root, str(root / "bin" / check[0]), *check[1:])
        if r.returncode != 0:
            msg = f"finish: {' '.join(check)} failed ({r.returncode}):\n{r.stdout}{r.stderr[-2000:]}"
            if emulated and check[0] == "oh-chromium":
                print(f"warning (emulated build): {msg[:300]}")
                continue
            sys.exit(msg)
    print(f"finish: {len(checks)} wrapper checks passed")


if __name__ == "__main__":
    platforms = sys.argv[4:6]
    emulated = len(platforms) == 2 and platforms[0] != platforms[1]
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "browser", emulated)
