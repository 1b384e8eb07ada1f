"""The app's locked dependencies as a venv for the target platform, built natively.

download: ``wheels.py download REQUIREMENTS STAGE WHEELS``
  pip downloads the locked files (hashes checked) for the target's CPython, ABI and
  glibc (read from the unpacked target packages in STAGE), never running the target's
  interpreter. A requirement with no wheel for the target comes as an sdist and is
  built here; it must give a pure-Python wheel, or the build stops and names it.
install: ``wheels.py install VENV STAGE WHEELS ENTRYPOINT``
  a venv for /openhands/python written by hand (pyvenv.cfg, interpreter links), every
  wheel installed with ``installer`` (console scripts point at the venv's python),
  Playwright's browser paths linked to oh-chromium, and deterministic bytecode
  (``unchecked-hash``: a read-only bundle starts without compiling anything).
"""

from __future__ import annotations

import compileall
import json
import os
import py_compile
import subprocess
import sys
from pathlib import Path

ARCH = {
    "amd64": "x86_64",
    "arm64": "aarch64",
    "386": "i686",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "arm": "armv7l",
}
PYTHON_HOME = "/openhands/python"
# Where Playwright looks for a browser, per layout it has used (x64 moved to Chrome for
# Testing's names); the check stage proves the one in use resolves.
PLAYWRIGHT_EXES = {
    "chromium": ("chrome-linux/chrome", "chrome-linux64/chrome", "chrome-linux-arm64/chrome"),
    "chromium-headless-shell": (
        "chrome-linux/headless_shell",
        "chrome-headless-shell-linux64/chrome-headless-shell",
        "chrome-headless-shell-linux-arm64/chrome-headless-shell",
    ),
}


def debs(stage: Path) -> dict[str, tuple[str, str]]:
    out = {}
    for line in (stage / ".oh-debs").read_text().splitlines():
        name, version, arch = line.split()
        out[name] = (version, arch)
    return out


def target(stage: Path) -> tuple[str, str, int, str]:
    """(machine, python X.Y, glibc minor, full python version) of the target packages."""
    pkgs = debs(stage)
    arch = pkgs["libc6"][1]
    glibc_minor = int(pkgs["libc6"][0].split("-")[0].split(".")[1])
    py = next(n for n in pkgs if n.startswith("libpython3.") and n.endswith("-minimal"))
    xy = py.removeprefix("libpython").removesuffix("-minimal")
    full = pkgs[py][0].split("-")[0].split("+")[0]
    return ARCH[arch], xy, glibc_minor, full


def platforms(machine: str, glibc_minor: int) -> list[str]:
    tags = [f"manylinux_2_{m}_{machine}" for m in range(glibc_minor, 4, -1)]
    tags += [f"manylinux2014_{machine}"]
    if machine in ("x86_64", "i686"):
        tags += [f"manylinux2010_{machine}", f"manylinux1_{machine}"]
    return tags


def pip(*args: str) -> None:
    r = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"venv: pip {args[0]} failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")


def for_target(requirements: Path, machine: str, xy: str, full: str) -> tuple[str, int]:
    """The exported requirements whose markers hold on the target, and how many were
    left out. pip would judge markers by the build machine (its architecture, and a
    kernel release such as '6.18.44-fc-v595' that a platform_release marker cannot
    even compare); the target is Linux on MACHINE with CPython FULL."""
    from packaging.markers import Marker

    env = {
        "implementation_name": "cpython",
        "implementation_version": full,
        "os_name": "posix",
        "platform_machine": machine,
        "platform_python_implementation": "CPython",
        "platform_release": "6.1.0",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": full,
        "python_version": xy,
        "sys_platform": "linux",
    }
    keep: list[str] = []
    block: list[str] = []
    dropped = 0
    for line in requirements.read_text().splitlines():
        block.append(line)
        if line.endswith("\\"):
            continue
        entry = " ".join(b.rstrip("\\").strip() for b in block).strip()
        block = []
        if not entry or entry.startswith("#"):
            continue
        spec, _, hashes = entry.partition(" --hash")
        req, _, marker = spec.partition(" ; ")
        if marker and not Marker(marker).evaluate(env):
            dropped += 1
        else:  # judged here: pip gets the requirement without its marker
            keep.append(f"{req.strip()} --hash{hashes}" if hashes else req.strip())
    return "\n".join(keep) + "\n", dropped


def download(requirements: Path, stage: Path, wheels: Path) -> None:
    machine, xy, glibc_minor, full = target(stage)
    dl = wheels / "dl"
    text, dropped = for_target(requirements, machine, xy, full)
    requirements = wheels / "requirements.txt"
    requirements.parent.mkdir(parents=True, exist_ok=True)
    requirements.write_text(text)
    print(f"venv: {dropped} locked packages are for other platforms, left out")
    plat = [a for p in platforms(machine, glibc_minor) for a in ("--platform", p)]
    nodot = xy.replace(".", "")
    pip(
        "download",
        "-q",
        "--no-deps",
        "--require-hashes",
        "-r",
        str(requirements),
        "-d",
        str(dl),
        "--python-version",
        xy,
        "--implementation",
        "cp",
        "--abi",
        f"cp{nodot}",
        "--abi",
        "abi3",
        "--abi",
        "none",
        *plat,
    )
    sdists = sorted(p for p in dl.iterdir() if not p.name.endswith(".whl"))
    for sd in sdists:
        before = set(dl.glob("*.whl"))
        pip("wheel", "-q", "--no-deps", "-w", str(dl), str(sd))
        built = set(dl.glob("*.whl")) - before
        for w in built:
            if not w.name.endswith("-none-any.whl"):
                sys.exit(
                    f"venv: {sd.name} has no wheel for {machine} on PyPI and builds "
                    f"native code ({w.name}); it cannot be cross-assembled"
                )
        sd.unlink()
    print(
        f"venv: {len(list(dl.glob('*.whl')))} wheels for cp{nodot} {machine} "
        f"(manylinux <= 2.{glibc_minor}), {len(sdists)} built from sdists"
    )


def write_venv(venv: Path, xy: str, full: str) -> Path:
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    site = venv / "lib" / f"python{xy}" / "site-packages"
    site.mkdir(parents=True, exist_ok=True)
    (venv / "lib64").symlink_to("lib")
    exe = f"{PYTHON_HOME}/bin/python{xy}"
    for name in ("python", "python3", f"python{xy}"):
        (venv / "bin" / name).symlink_to(exe)
    (venv / "pyvenv.cfg").write_text(
        f"home = {PYTHON_HOME}/bin\ninclude-system-site-packages = false\n"
        f"version = {full}\nexecutable = {exe}\n"
    )
    return site


def install_wheels(venv: Path, site: Path, xy: str, wheels: Path) -> int:
    from installer import install
    from installer.destinations import SchemeDictionaryDestination
    from installer.sources import WheelFile

    files = sorted((wheels / "dl").glob("*.whl"))
    for w in files:
        name = w.name.split("-")[0]
        dest = SchemeDictionaryDestination(
            {
                "purelib": str(site),
                "platlib": str(site),
                "scripts": str(venv / "bin"),
                "data": str(venv),
                "headers": str(venv / "include/site" / f"python{xy}" / name),
            },
            interpreter=str(venv / "bin/python"),
            script_kind="posix",
        )
        with WheelFile.open(w) as source:
            install(source, dest, additional_metadata={"INSTALLER": b"oh-builder\n"})
    return len(files)


def playwright_links(venv: Path, site: Path) -> int:
    spec = site / "playwright/driver/package/browsers.json"
    if not spec.exists():
        return 0
    n = 0
    for b in json.loads(spec.read_text())["browsers"]:
        for exe in PLAYWRIGHT_EXES.get(b["name"], ()):
            d = venv / "ms-playwright" / f"{b['name'].replace('-', '_')}-{b['revision']}"
            link = d / exe
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to("/openhands/browser/bin/oh-chromium")
            (d / "INSTALLATION_COMPLETE").touch()
            (d / "DEPENDENCIES_VALIDATED").touch()
            n += 1
    return n


def compile_tree(root: Path) -> None:
    """Deterministic bytecode (PYTHONHASHSEED=0 is set by the caller)."""
    compileall.compile_dir(
        str(root),
        quiet=2,
        workers=0,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )


def install_venv(venv: Path, stage: Path, wheels: Path, entrypoint: str) -> None:
    machine, xy, _, full = target(stage)
    own = f"{sys.version_info.major}.{sys.version_info.minor}"
    if own != xy:
        sys.exit(f"venv: the target has CPython {xy}, the build stage {own}")
    site = write_venv(venv, xy, full)
    count = install_wheels(venv, site, xy, wheels)
    # The app's source: /openhands/app, or /openhands/code (OpenHands V0's layout); site
    # adds only the one that exists.
    (site / "oh-app.pth").write_text("/openhands/app\n/openhands/code\n")
    # Every venv Python gives what it starts the container's environment back (the
    # wrapper's changes undone): oh_env_hook.py, run first by its .pth file.
    hook = Path(__file__).with_name("oh_env_hook.py")
    (site / "_oh_env.py").write_text(hook.read_text())
    (site / "_oh_env.pth").write_text("import _oh_env\n")
    (venv / "oh-entrypoint").write_text(entrypoint + "\n")
    # Whether or not the image has the browser layer: the venv never depends on it
    # (without it, oh-chromium says so).
    links = playwright_links(venv, site)
    compile_tree(site)
    pycs = sum(1 for _ in site.rglob("*.pyc"))
    print(
        f"venv: {count} wheels installed for {machine}, {links} Playwright browser links, "
        f"{pycs} .pyc files"
    )


if __name__ == "__main__":
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    if sys.argv[1] == "download":
        download(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
    else:
        install_venv(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]), sys.argv[5])
