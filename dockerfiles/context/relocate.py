"""Make every ELF file under a bundle directory load the bundled loader and libraries.

Runs natively on the build platform for any target architecture: dependencies are
found by reading the ELF files (elfinfo.py) against the unpacked target packages in
STAGE, the way the target's loader would find them, never by running ``ldd``.

system mode (``relocate.py system ROOT STAGE [EXTRA ...]``):
  1. every ELF file's NEEDED libraries are copied into ``ROOT/lib`` (flat, by soname),
     recursively, with the dynamic loader; EXTRA names dlopen'ed libraries in STAGE;
  2. executables get ``--set-interpreter ROOT/lib/<loader>``; executables and shared
     objects get a DT_RPATH (searched before a base's LD_LIBRARY_PATH, unlike RUNPATH)
     of their own ``$ORIGIN`` entries plus ``ROOT/lib``; glibc itself is never patched,
     but for one byte of the loader: it never reads the base's ``/etc/ld.so.preload``.
addon mode (``relocate.py addon ROOT STAGE SYSTEM_LIB OWN_LIB [EXTRA ...]``):
  the same for a layer added beside the system layer (the venv, the browser), except
  that what every system layer carries (the closure of CPython, libstdc++ and libgcc_s
  in STAGE) is taken from SYSTEM_LIB, and anything else (EXTRA included) goes into
  OWN_LIB inside the layer. Such a layer then never depends on the tool list: a change
  of tools does not touch it.
Both modes end by checking that every NEEDED entry of every ELF file resolves inside the
bundle, and fail the build otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from elfinfo import Elf, elves, read

# glibc's own objects: copied, never patched.
GLIBC = (
    "ld-linux",
    "ld64.so",
    "libc.so",
    "libm.so",
    "libpthread.so",
    "libdl.so",
    "librt.so",
    "libresolv.so",
    "libutil.so",
    "libmvec.so",
    "libnss_",
    "libanl.so",
    "libBrokenLocale",
    "libc_malloc_debug.so",
    "libthread_db.so",
)
# What the system layer carries whatever the tools: CPython's closure plus these
# (the C++ runtime and libatomic, which wheels and bundled Node binaries expect).
ALWAYS = ("libstdc++.so.6", "libgcc_s.so.1", "libatomic.so.1")


def default_dirs(stage: Path, triplet: str) -> list[Path]:
    dirs = [stage / "usr/lib" / triplet, stage / "usr/lib"]
    conf = stage / "etc/ld.so.conf.d"
    if conf.is_dir():
        for f in sorted(conf.glob("*.conf")):
            for line in f.read_text().splitlines():
                line = line.strip()
                if line.startswith("/"):
                    dirs.append(stage / line.lstrip("/"))
    return dirs


class Resolver:
    """Finds a soname the way the target's ld.so would, inside the bundle or STAGE."""

    def __init__(self, root: Path, stage: Path, triplet: str) -> None:
        self.root, self.stage = root, stage
        self.defaults = default_dirs(stage, triplet)

    def _dir(self, entry: str, origin: Path) -> Path:
        d = entry.replace("${ORIGIN}", str(origin)).replace("$ORIGIN", str(origin))
        p = Path(os.path.normpath(d))
        if p.is_relative_to(self.root) or p.is_relative_to(self.stage):
            return p
        return self.stage / str(p).lstrip("/")

    def find(self, soname: str, elf: Elf, origin: Path) -> Path | None:
        paths = [] if elf.runpath else list(elf.rpath)
        paths += elf.runpath
        for d in [*(self._dir(e, origin) for e in paths), *self.defaults]:
            p = d / soname
            if p.exists():
                return p
        return None


def is_glibc(name: str) -> bool:
    return name.startswith(GLIBC)


def origin_dirs(e: Elf) -> list[Path]:
    """The directories of ``e``'s $ORIGIN-relative DT_RPATH entries."""
    here = str(e.path.parent)
    return [
        Path(os.path.normpath(x.replace("${ORIGIN}", here).replace("$ORIGIN", here)))
        for x in e.rpath
        if "ORIGIN" in x
    ]


def inherited_rpaths(files: list[Elf], root: Path) -> dict[Path, list[Path]]:
    """Bundle directories each file is also searched in through the DT_RPATH of the
    objects that load it: unlike DT_RUNPATH, a DT_RPATH serves the libraries an object
    loads, and theirs. auditwheel's grafted libraries rely on it (Pillow 12's
    pillow.libs/libxcb-*.so needs libXau-*.so beside it, with no path of its own; the
    extension module's RPATH $ORIGIN/../pillow.libs finds both). real path -> dirs."""
    inherited: dict[Path, list[Path]] = {}
    changed = True
    while changed:
        changed = False
        for e in files:
            if e.runpath:
                continue  # a DT_RUNPATH turns DT_RPATH (own and inherited) off
            dirs = [d for d in origin_dirs(e) if d.is_relative_to(root)]
            dirs += inherited.get(Path(os.path.realpath(e.path)), [])
            for soname in e.needed:
                hit = next((d / soname for d in dirs if (d / soname).exists()), None)
                if hit is None:
                    continue
                cur = inherited.setdefault(Path(os.path.realpath(hit)), [])
                new = [d for d in dirs if d not in cur]
                if new:
                    cur.extend(new)
                    changed = True
    return inherited


def collect(
    seeds: list[tuple[Elf, Path]],
    resolver: Resolver,
    have: set[str],
    inherited: dict[Path, list[Path]] | None = None,
) -> tuple[dict[str, Path], list[str]]:
    """soname -> file in STAGE for everything ``seeds`` need (recursively) and ``have``
    lacks, and the list of (file: soname) that could not be found."""
    inherited = inherited or {}
    found: dict[str, Path] = {}
    missing: list[str] = []
    queue = list(seeds)
    while queue:
        elf, origin = queue.pop()
        wants = list(elf.needed)
        if elf.interpreter:
            wants.append(Path(elf.interpreter).name)
        for soname in wants:
            if soname in have or soname in found:
                continue
            origin_hit = any(
                (resolver._dir(e, origin) / soname).exists()
                for e in [*elf.rpath, *elf.runpath]
                if "ORIGIN" in e and resolver._dir(e, origin).is_relative_to(resolver.root)
            )
            if not elf.runpath:
                origin_hit = origin_hit or any(
                    (d / soname).exists()
                    for d in inherited.get(Path(os.path.realpath(elf.path)), ())
                )
            if origin_hit:
                continue  # shipped beside it (a wheel's .libs, chromium's own libraries)
            if soname == Path(elf.interpreter).name and elf.interpreter:
                p: Path | None = resolver.stage / elf.interpreter.lstrip("/")
                p = p if p and p.exists() else resolver.find(soname, elf, origin)
            else:
                p = resolver.find(soname, elf, origin)
            if p is None:
                missing.append(f"{elf.path}: {soname}")
                continue
            found[soname] = p
            sub = read(Path(os.path.realpath(p)))
            if sub is not None:
                queue.append((sub, Path(os.path.realpath(p)).parent))
    return found, missing


def copy_libs(found: dict[str, Path], lib: Path) -> None:
    lib.mkdir(parents=True, exist_ok=True)
    for soname, src in sorted(found.items()):
        dest = lib / soname
        if not dest.exists():
            shutil.copy2(os.path.realpath(src), dest)
            os.chmod(dest, 0o755)


def patch(files: list[Elf], lib_dirs: list[Path], interp: Path, skip_dir: Path | None) -> int:
    patched = 0
    for e in files:
        if skip_dir is not None and e.path.parent == skip_dir and is_glibc(e.path.name):
            continue
        if not e.interpreter and all(is_glibc(n) for n in e.needed):
            continue  # e.g. a manylinux extension module: only needs the loaded libc
        keep = [x for x in [*e.rpath, *e.runpath] if x.startswith(("$ORIGIN", "${ORIGIN}"))]
        rpath = ":".join([*keep, *(str(d) for d in lib_dirs)])
        # Two separate calls: patchelf 0.18 doing both at once corrupts some PIE
        # executables (Debian's python3.13 segfaults).
        subprocess.run(["patchelf", "--force-rpath", "--set-rpath", rpath, str(e.path)], check=True)
        if e.interpreter:
            subprocess.run(["patchelf", "--set-interpreter", str(interp), str(e.path)], check=True)
        patched += 1
    return patched


# The preload list glibc's loader reads before any program starts. A base's lists
# libraries built for its own libc (a host agent's, a sandbox's interposer): the bundle's
# loader must never load them into a bundled program. Its first byte becomes NUL, so the
# loader asks for "" (no such file) instead; a string the linker merged into its tail
# stays intact. The base's own loader still reads the file for the base's programs.
PRELOAD_LIST = b"/etc/ld.so.preload\0"


def seal_loader(loader: Path) -> None:
    data = loader.read_bytes()
    if data.count(PRELOAD_LIST) != 1:
        sys.exit(f"relocate: expected {PRELOAD_LIST!r} once in {loader}")
    loader.write_bytes(data.replace(PRELOAD_LIST, b"\0" + PRELOAD_LIST[1:]))


def target_elves(root: Path, lib_dirs: list[Path]) -> list[Elf]:
    """The ELF files under ``root`` for the machine of the bundle's libc (a wheel may
    carry programs for other machines, which the target never runs)."""
    libc = next((d / "libc.so.6" for d in lib_dirs if (d / "libc.so.6").exists()), None)
    found = read(Path(os.path.realpath(libc))) if libc else None
    files = elves(root)
    return [e for e in files if e.machine == found.machine] if found else files


def check(root: Path, lib_dirs: list[Path], tree: Path | None = None) -> None:
    """Every NEEDED of every ELF file under ``tree`` (default: ``root``, the bundle)
    resolves inside the bundle."""
    bad = []
    files = target_elves(tree or root, lib_dirs)
    inherited = inherited_rpaths(files, root)
    for e in files:
        dirs = [
            Path(
                os.path.normpath(
                    x.replace("${ORIGIN}", str(e.path.parent)).replace(
                        "$ORIGIN", str(e.path.parent)
                    )
                )
            )
            for x in [*e.rpath, *e.runpath]
        ]
        if not e.runpath:
            dirs += inherited.get(Path(os.path.realpath(e.path)), [])
        for n in e.needed:
            if not any((d / n).exists() for d in [*dirs, *lib_dirs]):
                bad.append(f"{e.path}: {n}")
        if e.path.parent in lib_dirs and is_glibc(e.path.name):
            continue  # libc.so.6 and ld.so carry an interpreter entry; never patched
        if e.interpreter and not (
            Path(e.interpreter).is_relative_to(root) and Path(e.interpreter).exists()
        ):
            bad.append(f"{e.path}: interpreter {e.interpreter} is not in the bundle")
    if bad:
        sys.exit("relocate: unresolved inside the bundle:\n  " + "\n  ".join(bad[:40]))


def core(stage: Path, triplet: str, resolver: Resolver) -> tuple[dict[str, Path], list[str]]:
    """CPython (binary and extension modules), all of glibc and ALWAYS, from STAGE."""
    seeds = [(e, e.path.parent) for e in elves(stage / "usr/lib") if "/lib-dynload/" in str(e.path)]
    seeds += [
        (e, e.path.parent)
        for e in (read(p) for p in (stage / "usr/bin").glob("python3.*"))
        if e is not None
    ]
    found, missing = collect(seeds, resolver, set())
    # All of glibc (libpthread, libdl, librt … are stubs that wheels still name).
    libdir = stage / "usr/lib" / triplet
    for name in sorted(os.listdir(libdir)):
        if is_glibc(name) and ".so." in name and (libdir / name).is_file():
            found.setdefault(name, libdir / name)
    for name in ALWAYS:
        p = stage / "usr/lib" / triplet / name
        if p.exists():
            found[name] = p
            sub = read(Path(os.path.realpath(p)))
            if sub is not None:
                more, _ = collect([(sub, p.parent)], resolver, set(found))
                found.update(more)
    return found, missing


def system(root: Path, stage: Path, triplet: str, extra: list[str]) -> None:
    lib = root / "lib"
    resolver = Resolver(root, stage, triplet)
    files = elves(root)
    seeds = [(e, e.path.parent) for e in files]
    for x in extra:
        e = read(Path(os.path.realpath(x)))
        if e is not None:
            seeds.append((e, Path(os.path.realpath(x)).parent))
    found, missing = collect(seeds, resolver, set())
    always, _ = core(stage, triplet, resolver)
    found.update(always)
    if missing:
        sys.exit("relocate: not found in the target packages:\n  " + "\n  ".join(missing[:40]))
    copy_libs(found, lib)
    for x in extra:
        dest = lib / Path(x).name
        if not dest.exists():
            shutil.copy2(os.path.realpath(x), dest)
    loaders = [n for n in found if n.startswith(("ld-linux", "ld64.so"))]
    if len(loaders) != 1:
        sys.exit(f"relocate: expected one dynamic loader, found {loaders}")
    patched = patch(elves(root), [lib], lib / loaders[0], lib)
    seal_loader(lib / loaders[0])
    check(root, [lib])
    print(
        f"relocate: {len(found)} libraries in {lib}, {patched} files patched, loader {loaders[0]}"
    )


def addon(
    root: Path, stage: Path, triplet: str, system_lib: Path, own: Path, extra: list[str]
) -> None:
    resolver = Resolver(root, stage, triplet)
    provided, _ = core(stage, triplet, resolver)
    have = set(provided)
    # Only the target's own ELF files: a wheel may carry programs for other machines
    # (SpeechRecognition's 32-bit flac-linux-x86 beside its x86_64 one), which the
    # target never loads.
    machine = read(Path(os.path.realpath(provided["libc.so.6"]))).machine  # type: ignore[union-attr]
    everything = elves(root)
    files = [e for e in everything if e.machine == machine]
    if len(files) != len(everything):
        print(
            f"relocate: {root} {len(everything) - len(files)} ELF files for other machines "
            f"left as they are: "
            + ", ".join(
                sorted(str(e.path.relative_to(root)) for e in everything if e not in files)
            )[:600]
        )
    seeds = [(e, e.path.parent) for e in files]
    for x in extra:
        e = read(Path(os.path.realpath(x)))
        if e is not None:
            seeds.append((e, Path(os.path.realpath(x)).parent))
    found, missing = collect(seeds, resolver, have, inherited_rpaths(files, root))
    if missing:
        sys.exit(
            f"relocate: {root} needs libraries that neither its packages nor the "
            "system layer's core provide:\n  " + "\n  ".join(missing[:40])
        )
    if found or extra:
        copy_libs(found, own)
    for x in extra:
        dest = own / Path(x).name
        if not dest.exists():
            shutil.copy2(os.path.realpath(x), dest)
    loader = next(n for n in provided if n.startswith(("ld-linux", "ld64.so")))
    patched = patch(
        [e for e in elves(root) if e.machine == machine],
        [own, system_lib] if found or extra else [system_lib],
        system_lib / loader,
        None,
    )
    print(f"relocate: {root} {patched} files patched, {len(found) + len(extra)} own libraries")


def triplet_of(stage: Path) -> str:
    """The multiarch directory of the (single-architecture) target packages."""
    found = sorted(p.name for p in (stage / "usr/lib").glob("*-linux-gnu*") if p.is_dir())
    if len(found) != 1:
        sys.exit(f"relocate: expected one multiarch directory in {stage}/usr/lib, got {found}")
    return found[0]


if __name__ == "__main__":
    mode, root, stage, *rest = sys.argv[1:]
    if mode == "system":
        system(Path(root), Path(stage), triplet_of(Path(stage)), rest)
    else:
        addon(
            Path(root), Path(stage), triplet_of(Path(stage)), Path(rest[0]), Path(rest[1]), rest[2:]
        )
