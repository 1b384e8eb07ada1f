"""Per-base setup of a runtime image, run with the bundled Python as root.

Creates the ``openhands`` user (uid/gid 1000) and ``/workspace``, and makes sure
``/tmp`` exists, without the base's shell or package manager.

If uid 1000 already belongs to another user (``ubuntu``, ``pn``), ``openhands`` is
added as a second name for uid 1000 sharing that user's primary group; if gid 1000 is
taken, ``openhands`` joins that group. Files are owned by uid 1000 either way.
"""

from __future__ import annotations

import os
from pathlib import Path

UID = GID = 1000
NAME = "openhands"
HOME = "/workspace"


def entries(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [line.split(":") for line in path.read_text().splitlines() if line.strip()]


def append(path: Path, line: str) -> None:
    text = path.read_text() if path.exists() else ""
    if text and not text.endswith("\n"):
        text += "\n"
    path.write_text(text + line + "\n")


def main() -> None:
    etc = Path("/etc")
    etc.mkdir(exist_ok=True)
    passwd, group = entries(etc / "passwd"), entries(etc / "group")
    shell = "/bin/bash" if Path("/bin/bash").exists() else "/openhands/fallback/bin/bash"
    if not any(e[0] == "root" for e in passwd):
        append(etc / "passwd", "root:x:0:0:root:/root:" + shell)
    if not any(e[0] == "root" for e in group):
        append(etc / "group", "root:x:0:")
    gid_owner = next((e for e in group if len(e) > 2 and e[2] == str(GID)), None)
    if gid_owner is None and not any(e[0] == NAME for e in group):
        append(etc / "group", f"{NAME}:x:{GID}:")
    elif gid_owner is not None and gid_owner[0] != NAME:
        lines = (etc / "group").read_text().splitlines()
        out = []
        for line in lines:
            f = line.split(":")
            if len(f) > 3 and f[2] == str(GID):
                members = [m for m in f[3].split(",") if m]
                f[3] = ",".join([*members, NAME])
                line = ":".join(f)
            out.append(line)
        (etc / "group").write_text("\n".join(out) + "\n")
    if not any(e[0] == NAME for e in passwd):
        append(etc / "passwd", f"{NAME}:x:{UID}:{GID}:OpenHands agent:{HOME}:{shell}")
    shadow = etc / "shadow"
    if shadow.exists() and NAME not in {e[0] for e in entries(shadow)}:
        append(shadow, f"{NAME}:!:19000:0:99999:7:::")
    for d, mode, owner in ((HOME, 0o755, UID), ("/tmp", 0o1777, 0)):
        os.makedirs(d, exist_ok=True)
        os.chown(d, owner, GID if owner else 0)
        os.chmod(d, mode)


if __name__ == "__main__":
    main()
