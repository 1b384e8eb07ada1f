"""Make every ELF file under a bundle root load the bundled loader and libraries.

Runs inside the deps build (with the build stage's own Python and patchelf):

1. Each ELF file's shared-library dependencies (as resolved by ``ldd``) are copied
   into ``ROOT/lib``, recursively, together with the dynamic loader.
2. Executables get ``--set-interpreter ROOT/lib/<loader>``; executables and shared
   objects get a DT_RPATH (not RUNPATH: RPATH is searched before a base image's
   LD_LIBRARY_PATH) of their own ``$ORIGIN`` entries plus ``ROOT/lib``.
3. The loader and libc are never patched.

Usage: python3 relocate.py ROOT [EXTRA_LIB ...]   (EXTRA_LIB: dlopen'ed libraries)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

# glibc's own objects: copied, never patched.
GLIBC = ("ld-linux", "libc.so", "libm.so", "libpthread.so", "libdl.so", "librt.so",
         "libresolv.so", "libutil.so", "libmvec.so", "libnss_", "libanl.so", "libBrokenLocale")


def is_elf(p: Path) -> bool:
    try:
        with p.open("rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def run(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=False).stdout.strip()


def ldd(p: Path) -> dict[str, str]:
    """soname -> resolved path, for the libraries ``p`` needs."""
    out: dict[str, str] = {}
    for line in run("ldd", str(p)).splitlines():
        parts = line.strip().split()
        if "=>" in parts and len(parts) >= 3 and parts[2].startswith("/"):
            out[parts[0]] = parts[2]
        elif parts and parts[0].startswith("/") and "ld-linux" in parts[0]:
            out[Path(parts[0]).name] = parts[0]
    return out


def main(root: Path, extra: list[str]) -> None:
    lib = root / "lib"
    lib.mkdir(parents=True, exist_ok=True)
    elves = [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and is_elf(p)]
    queue = [Path(e) for e in extra] + elves
    seen: set[str] = set()
    loader = ""
    while queue:
        p = queue.pop()
        for soname, path in ldd(p).items():
            if "ld-linux" in soname:
                loader = Path(path).name
                soname = loader
            if soname in seen:
                continue
            seen.add(soname)
            dest = lib / soname
            if not dest.exists():
                shutil.copy2(os.path.realpath(path), dest)
                os.chmod(dest, 0o755)
                queue.append(dest)
    for e in extra:
        dest = lib / Path(e).name
        if not dest.exists():
            shutil.copy2(os.path.realpath(e), dest)
    if not loader:
        sys.exit("relocate: found no dynamic loader")
    interp = str(lib / loader)
    patched = 0
    for p in [q for q in root.rglob("*") if q.is_file() and not q.is_symlink() and is_elf(q)]:
        name = p.name
        if p.parent == lib and name.startswith(GLIBC):
            continue
        has_interp = bool(run("patchelf", "--print-interpreter", str(p)))
        needed = run("patchelf", "--print-needed", str(p)).split()
        if not has_interp and all(n.startswith(GLIBC) for n in needed):
            continue  # e.g. a manylinux extension module: only needs the loaded libc
        old = run("patchelf", "--print-rpath", str(p))
        keep = [e for e in old.split(":") if e.startswith("$ORIGIN")]
        # Two separate calls: patchelf 0.18 doing both at once corrupts some PIE
        # executables (Debian's python3.13 segfaults).
        subprocess.run(["patchelf", "--force-rpath", "--set-rpath", ":".join([*keep, str(lib)]),
                        str(p)], check=True)
        if has_interp:
            subprocess.run(["patchelf", "--set-interpreter", interp, str(p)], check=True)
        patched += 1
    print(f"relocate: {len(seen)} libraries in {lib}, {patched} files patched, loader {loader}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
