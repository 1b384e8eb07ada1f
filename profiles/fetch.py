"""Fetch a profile's source that is not committed: a released sdist, pinned by hash.

The openhands-v0 profile is OpenHands' own V0 source (openhands-ai 1.6.0, the last
release with ``openhands/runtime/``): its ``pyproject.toml``, ``poetry.lock`` and
``openhands/`` tree, as the seed plan's ``./code``. It is not committed (about 1,000
files of another project, and the sdist is the published, reviewable form); this
script downloads the sdist from the package index pip is configured to use, checks its
sha256, and unpacks it into ``profiles/openhands-v0/`` (written beside it, then moved:
never half-written). ``make profiles`` runs it; an existing, complete copy is kept.

Usage: python profiles/fetch.py openhands-v0
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (requirement, sdist file name, sha256, top-level entries kept)
SOURCES = {
    "openhands-v0": (
        "openhands-ai==1.6.0",
        "openhands_ai-1.6.0.tar.gz",
        "883a5bc5619f545462adf7f97a0960c32398a3cc62a263ee25455c3630e41109",
        ("pyproject.toml", "poetry.lock", "openhands", "skills", "LICENSE", "README.md"),
    ),
}


def fail(msg: str) -> None:
    print(f"profiles/fetch.py: {msg}", file=sys.stderr)
    raise SystemExit(2)


def fetch(name: str) -> Path:
    if name not in SOURCES:
        fail(f"unknown profile {name!r}; known: {', '.join(SOURCES)}")
    req, filename, sha256, keep = SOURCES[name]
    dest = HERE / name
    # The stamp sits beside the copy, not in it (the copy is the app layer's content).
    stamp = HERE / f".{name}.fetched"
    if stamp.is_file() and stamp.read_text().strip() == sha256 and dest.is_dir():
        return dest
    with tempfile.TemporaryDirectory(prefix=f".{name}.", dir=HERE) as tmp:
        dl = Path(tmp) / "dl"
        # The sdist itself, whatever Python runs this (openhands-ai needs >= 3.12).
        r = subprocess.run(
            [
                sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                "--no-binary", ":all:", "--python-version", "3.12", "-d", str(dl), req,
            ],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        sdist = dl / filename
        if r.returncode != 0 or not sdist.is_file():
            fail(f"cannot download {req} ({filename}) from the package index: "
                 f"{(r.stderr.strip().splitlines() or ['no output'])[-1]}")  # fmt: skip
        got = hashlib.sha256(sdist.read_bytes()).hexdigest()
        if got != sha256:
            fail(f"{filename}: sha256 {got}, expected {sha256}; the index serves another file")
        out = Path(tmp) / "out"
        with tarfile.open(sdist) as tf:
            tf.extractall(Path(tmp) / "x", filter="data")
        (top,) = (Path(tmp) / "x").iterdir()
        out.mkdir()
        for entry in keep:
            os.rename(top / entry, out / entry)
        stamp.unlink(missing_ok=True)
        if dest.exists():
            shutil.rmtree(dest)
        os.rename(out, dest)
        stamp.write_text(sha256 + "\n")
    return dest


if __name__ == "__main__":
    if len(sys.argv) != 2:
        fail("usage: python profiles/fetch.py PROFILE")
    print(fetch(sys.argv[1]))
