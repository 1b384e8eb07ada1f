"""Unpack Debian packages of any architecture into a staging tree, natively.

Runs on the build platform. apt resolves PACKAGE... and their dependencies for ARCH
against an empty package database (its own lists, status and archive directories,
so the build stage's own packages are neither considered nor touched), downloads
them, and ``dpkg-deb -x`` unpacks each into STAGE. No maintainer script runs, so
nothing of the target architecture executes: an arm64 tree is assembled at native
speed on an amd64 builder. ``/bin``, ``/lib`` … are merged into ``/usr`` as on a
merged-/usr system, and STAGE/.oh-debs lists what was unpacked (name version arch).

Downloaded packages are kept in $OH_DEBS_CACHE/ARCH when that is set (a BuildKit cache
mount), so a rebuild downloads only what changed.

Usage: python3 debs.py ARCH STAGE PACKAGE...
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

APT_DIR = Path("/var/lib/oh-debs")


def archives(arch: str) -> Path:
    cache = os.environ.get("OH_DEBS_CACHE")
    return Path(cache, arch) if cache else APT_DIR / arch / "archives"


def apt_config(arch: str) -> Path:
    root = APT_DIR / arch
    shutil.rmtree(root, ignore_errors=True)
    for d in ("lists/partial", "cache"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (archives(arch) / "partial").mkdir(parents=True, exist_ok=True)
    (root / "status").touch()
    conf = root / "apt.conf"
    conf.write_text(
        f'APT::Architecture "{arch}";\n'
        f'APT::Architectures {{ "{arch}"; }};\n'
        f'Dir::State::status "{root}/status";\n'
        f'Dir::State::Lists "{root}/lists";\n'
        f'Dir::State::extended_states "{root}/extended_states";\n'
        f'Dir::Cache "{root}/cache";\n'
        f'Dir::Cache::archives "{archives(arch)}";\n'
        'APT::Sandbox::User "root";\n'
        'APT::Install-Recommends "false";\n'
        'Acquire::Languages "none";\n'
    )
    return conf


def apt(conf: Path, *args: str) -> None:
    env = {**os.environ, "APT_CONFIG": str(conf), "DEBIAN_FRONTEND": "noninteractive"}
    r = subprocess.run(["apt-get", "-qq", *args], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"debs: apt-get {' '.join(args)} failed:\n{r.stdout}{r.stderr}")


def usr_merge(stage: Path) -> None:
    """Move /bin, /sbin, /lib* into /usr and leave symlinks, as merged-/usr systems do."""
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        top = stage / name
        if not top.exists() or top.is_symlink():
            continue
        dest = stage / "usr" / name
        for dirpath, _dirs, files in os.walk(top):
            rel = Path(dirpath).relative_to(top)
            (dest / rel).mkdir(parents=True, exist_ok=True)
            for f in files:
                target = dest / rel / f
                if not target.exists() and not target.is_symlink():
                    os.rename(Path(dirpath, f), target)
        shutil.rmtree(top)
        top.symlink_to(f"usr/{name}")


def main(arch: str, stage: Path, packages: list[str]) -> None:
    conf = apt_config(arch)
    apt(conf, "update")
    # The exact set apt picks (a cache may hold other versions from earlier builds).
    env = {**os.environ, "APT_CONFIG": str(conf)}
    sim = subprocess.run(
        ["apt-get", "-qq", "install", "-s", "-y", *packages],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if sim.returncode != 0:
        sys.exit(
            f"debs: apt-get cannot resolve {' '.join(packages)} for {arch}:\n"
            f"{sim.stdout}{sim.stderr}"
        )
    names = []
    for m in re.finditer(r"^Inst (\S+) \((\S+) .*\[(\S+)\]\)", sim.stdout, re.M):
        name, version, pkg_arch = m.groups()
        names.append(f"{name}_{version.replace(':', '%3a')}_{pkg_arch}.deb")
    apt(conf, "install", "--download-only", "-y", *packages)
    debs = [archives(arch) / n for n in sorted(names)]
    if not debs:
        sys.exit(f"debs: apt downloaded nothing for {' '.join(packages)} ({arch})")
    stage.mkdir(parents=True, exist_ok=True)
    listing = []
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(stage)], check=True)
        fields = subprocess.run(
            ["dpkg-deb", "-f", str(deb), "Package", "Version", "Architecture"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
        listing.append(" ".join(f.split(": ", 1)[1] for f in fields if ": " in f))
    usr_merge(stage)
    (stage / ".oh-debs").write_text("\n".join(listing) + "\n")
    shutil.rmtree(APT_DIR / arch)
    if not os.environ.get("OH_DEBS_CACHE"):
        shutil.rmtree(archives(arch), ignore_errors=True)
    print(f"debs: {len(debs)} packages for {arch} unpacked into {stage}")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), sys.argv[3:])
