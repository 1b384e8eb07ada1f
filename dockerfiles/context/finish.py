"""Last step of the system layer, natively: plain-name fallbacks, wrappers of tools
that are not bundled removed (those that run the venv's programs stay), and the
standard library's bytecode.

Usage: python3 finish.py ROOT
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from wheels import compile_tree

FALLBACKS = {
    "git": "oh-git",
    "rg": "oh-rg",
    "jq": "oh-jq",
    "tmux": "oh-tmux",
    "bash": "oh-bash",
    "python3": "oh-python",
    "node": "oh-node",
}
OTHER_LAYERS = ("/openhands/venv/",)


def main(root: Path) -> None:
    fallback = root / "fallback/bin"
    fallback.mkdir(parents=True, exist_ok=True)
    for w in (root / "bin").iterdir():  # drop wrappers whose tool is not bundled
        target = re.search(r"exec (/openhands/\S+)", w.read_text())
        if (
            target
            and not target.group(1).startswith(OTHER_LAYERS)
            and not Path(target.group(1)).exists()
        ):
            w.unlink()
    for name, wrapper in FALLBACKS.items():
        if (root / "bin" / wrapper).exists():
            os.symlink(f"../../bin/{wrapper}", fallback / name)
    # Everyday commands (ls, cat, rm, sh, …) from the static busybox, for bases without
    # them; they come last on PATH, so a base's own always win. The applet list is read
    # from the build stage's busybox (same Debian release and configuration): nothing of
    # the target architecture runs here.
    applets = subprocess.run(
        ["/bin/busybox", "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in applets:
        if not (fallback / applet).exists() and applet not in ("busybox", "bash"):
            os.symlink("../../usr/bin/busybox", fallback / applet)
    stdlib = next((root / "python/lib").glob("python3.*"))
    compile_tree(stdlib)
    pycs = sum(1 for _ in stdlib.rglob("*.pyc"))
    print(f"finish: {len(applets)} busybox fallbacks, {pycs} standard-library .pyc files")


if __name__ == "__main__":
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    main(Path(sys.argv[1]))
