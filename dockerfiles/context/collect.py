"""Copy CPython and the tools from the unpacked target packages into the bundle layout.

STAGE is a tree of unpacked Debian packages of the target architecture (debs.py);
nothing from it is executed.

ROOT/python      CPython (binary + standard library), found by its own landmark
ROOT/usr/bin     tool binaries (bash, tmux, git, rg, jq, node, busybox, tini), never on PATH
ROOT/usr/lib     their data (git-core, locale); ROOT/usr/share (terminfo)
ROOT/etc         CA certificates
ROOT/.dlopen     libraries loaded with dlopen (ldd does not see them), for relocate.py

With --browser, the browser layer instead (BROWSER is /openhands/browser):
BROWSER/chromium    Chromium's tree
BROWSER/fonts       fonts, with BROWSER/fonts.conf naming them
BROWSER/bin         chromium, a plain-name link to oh-chromium (copied there before)
BROWSER/.dlopen     the NSS modules Chromium's NSS loads with dlopen

Usage: python3 collect.py ROOT STAGE TOOL...  |  python3 collect.py --browser BROWSER STAGE
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
from pathlib import Path

TOOL_BINARIES = {
    "bash": ["usr/bin/bash"],
    "tmux": ["usr/bin/tmux"],
    "git": ["usr/bin/git"],
    "ripgrep": ["usr/bin/rg"],
    "jq": ["usr/bin/jq"],
    "nodejs": ["usr/bin/node"],
}
TERMINFO = [
    "xterm",
    "xterm-256color",
    "screen",
    "screen-256color",
    "tmux",
    "tmux-256color",
    "linux",
    "vt100",
    "vt220",
    "dumb",
    "ansi",
]
# sitecustomize.py is Debian's link to /etc/python3.X/: a base's file, never ours.
STDLIB_SKIP = {
    "test",
    "idlelib",
    "tkinter",
    "turtledemo",
    "ensurepip",
    "lib2to3",
    "__pycache__",
    "config-3",
    "dist-packages",
    "site-packages",
    "sitecustomize.py",
}


def copy(src: str, dest: Path) -> None:
    """Copy a file or a tree; hard links (git-core's builtins) become relative symlinks."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not (os.path.isdir(src) and not os.path.islink(src)):
        shutil.copy2(os.path.realpath(src), dest)
        return
    first: dict[tuple[int, int], Path] = {}
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        out = dest / os.path.relpath(dirpath, src)
        out.mkdir(parents=True, exist_ok=True)
        for name in dirnames:
            if os.path.islink(os.path.join(dirpath, name)):
                os.symlink(os.readlink(os.path.join(dirpath, name)), out / name)
        for name in filenames:
            s = os.path.join(dirpath, name)
            if os.path.islink(s):
                os.symlink(os.readlink(s), out / name)
                continue
            st = os.stat(s)
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in first:
                os.symlink(os.path.relpath(first[key], out), out / name)
                continue
            first[key] = out / name
            shutil.copy2(s, out / name)


def python_version(stage: Path) -> str:
    """``python3.X`` of the target packages; the build's own CPython must match it
    (it compiles the bytecode and installs the wheels)."""
    exes = sorted(p.name for p in (stage / "usr/bin").glob("python3.*") if p.name[8:].isdigit())
    if len(exes) != 1:
        sys.exit(f"collect: expected one CPython in the target packages, found {exes}")
    own = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if exes[0] != own:
        sys.exit(f"collect: the target packages have {exes[0]}, the build stage {own}")
    return exes[0]


def python(root: Path, stage: Path) -> None:
    ver = python_version(stage)
    copy(str(stage / "usr/bin" / ver), root / "python/bin" / ver)
    for link in ("python3", "python"):
        os.symlink(ver, root / "python/bin" / link)
    stdlib = stage / "usr/lib" / ver
    dest = root / "python/lib" / ver
    for entry in stdlib.iterdir():
        if entry.name in STDLIB_SKIP or entry.name.startswith("config-"):
            continue
        copy(str(entry), dest / entry.name)


def tzdata(root: Path, stage: Path) -> None:
    """Debian's time-zone data as the ``tzdata`` package of the bundle's CPython: its
    ``zoneinfo`` falls back to it where the base has no zone files (busybox, musl, no
    shell), and the base's own /usr/share/zoneinfo still comes first (TZPATH)."""
    src = stage / "usr/share/zoneinfo"
    if not src.is_dir():
        sys.exit("collect: no /usr/share/zoneinfo in the target packages (tzdata)")
    package = root / "python/lib" / python_version(stage) / "tzdata"
    copy(str(src), package / "zoneinfo")
    first = (src / "tzdata.zi").read_text().splitlines()[0] if (src / "tzdata.zi").exists() else ""
    version = first.removeprefix("# version ").strip() or "unknown"
    (package / "__init__.py").write_text(
        f'"""IANA time-zone data from Debian\'s tzdata, for zoneinfo."""\n\n'
        f'IANA_VERSION = "{version}"\n'
    )


def terminfo(root: Path, stage: Path) -> None:
    for name in TERMINFO:
        for base in ("usr/share/terminfo", "usr/lib/terminfo", "etc/terminfo"):
            src = f"{stage}/{base}/{name[0]}/{name}"
            if os.path.exists(src):
                copy(src, root / "usr/share/terminfo" / name[0] / name)
                break


FONTS_CONF = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <dir>/openhands/browser/fonts</dir>
  <cachedir>/tmp/oh-fontconfig-cache</cachedir>
  <config></config>
</fontconfig>
"""


def browser(root: Path, stage: Path) -> None:
    copy(f"{stage}/usr/lib/chromium", root / "chromium")
    for d in (f"{stage}/usr/share/fonts/truetype/dejavu",):
        copy(d, root / "fonts" / Path(d).name)
    (root / "fonts.conf").write_text(FONTS_CONF)
    os.symlink("oh-chromium", root / "bin/chromium")
    # NSS loads its crypto modules with dlopen; p11-kit's trust module serves nssckbi.
    dlopen: list[str] = []
    for pattern in (
        "usr/lib/*-linux-gnu/libsoftokn3.so",
        "usr/lib/*-linux-gnu/libfreebl*.so",
        "usr/lib/*-linux-gnu/libnssckbi.so",
        "usr/lib/*-linux-gnu/nss/*.so",
        "usr/lib/*-linux-gnu/pkcs11/p11-kit-trust.so",
    ):
        dlopen.extend(p for p in glob.glob(f"{stage}/{pattern}") if os.path.exists(p))
    (root / ".dlopen").write_text("\n".join(sorted(set(dlopen))) + "\n")
    print(f"collect: browser, {len(set(dlopen))} dlopen'ed libraries")


def main(root: Path, stage: Path, tools: list[str]) -> None:
    dlopen: list[str] = []
    python(root, stage)
    for tool in ["bash", *tools]:
        for binary in TOOL_BINARIES[tool]:
            copy(f"{stage}/{binary}", root / "usr/bin" / Path(binary).name)
    if "git" in tools:
        copy(f"{stage}/usr/lib/git-core", root / "usr/lib/git-core")
        copy(f"{stage}/usr/share/git-core/templates", root / "usr/share/git-core/templates")
    # busybox (static): coreutils-style fallbacks for bases that have none.
    copy(f"{stage}/usr/bin/busybox", root / "usr/bin/busybox")
    # tini (static): the init process of a runtime image; it reaps the agent's orphans.
    copy(f"{stage}/usr/bin/tini-static", root / "usr/bin/tini")
    terminfo(root, stage)
    tzdata(root, stage)
    copy(f"{stage}/usr/lib/locale/C.utf8", root / "usr/lib/locale/C.utf8")
    # The CA bundle is made by ca-certificates' maintainer script, which is not run on
    # the target tree; the bundle is the same file on every architecture, so it comes
    # from the build stage's own (native) ca-certificates.
    copy("/etc/ssl/certs/ca-certificates.crt", root / "etc/ssl/certs/ca-certificates.crt")
    # glibc's iconv modules (git, python's locale handling of other charsets).
    gconv = glob.glob(f"{stage}/usr/lib/*-linux-gnu/gconv")
    if gconv:
        for f in (
            "gconv-modules",
            "gconv-modules.d",
            "UTF-16.so",
            "UTF-32.so",
            "UTF-7.so",
            "UNICODE.so",
            "ISO8859-1.so",
            "ISO8859-15.so",
        ):
            if os.path.exists(f"{gconv[0]}/{f}"):
                copy(f"{gconv[0]}/{f}", root / "usr/lib/gconv" / f)
    (root / ".dlopen").write_text("\n".join(sorted(set(dlopen))) + "\n")
    print(f"collect: python {sys.version.split()[0]}, tools {' '.join(tools)}")


if __name__ == "__main__":
    if sys.argv[1] == "--browser":
        browser(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:])
