"""The output directory (``--output``): written whole or not at all, replaced only when
it holds nothing but what oh-builder wrote, and used by one oh-builder at a time.

- A marker file (``.oh-builder``) lists every file oh-builder wrote there with its
  sha256. ``write_build_dir`` replaces a directory only when each entry in it is one of
  those files, unchanged, a directory holding them, or a bake's ``logs/*.log`` (or the
  directory is empty); a file the user added or edited, or a directory without the
  marker, whatever its ``docker-bake.hcl`` says, is an OutputError (exit 6) naming the
  entry, and the directory is left as it was.
- The new content is written to a sibling temporary directory and swapped in with two
  renames; a failure of the second puts the old directory back, and a run killed
  between them is finished by the next one (the old directory renamed back if the new
  one never arrived), so nothing that was there is lost.
- ``output_lock`` holds an exclusive lock (a file under $TMPDIR/oh-builder-locks, named
  by the directory's path) while a command uses the directory (plan: while writing;
  bake: until buildx has finished); a second command refuses at once instead of
  replacing a context a bake is reading.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from builder.errors import OutputError

MARKER = ".oh-builder"
MARKER_HEADER = "Written by oh-builder; `oh-builder plan` and `bake` replace this directory."
_MANIFEST = "# the files it wrote (sha256, path); a bake adds logs/*.log"
# The marker of oh-builder before it listed its files: such a directory is replaced only
# when each file in it is one the new content has (its content could not be checked).
_OLD_MARKER = "Written by oh-builder; `oh-builder plan` and `bake` replace this directory.\n"
LOGS = "logs"  # a bake's per-target logs (builder/run.py)
EPOCH = 1_700_000_000  # the fixed mtime of every directory in the build context


@dataclass(frozen=True, kw_only=True)
class ContextFile:
    data: bytes
    executable: bool


def content_mtime(data: bytes) -> int:
    """The mtime a context file gets: a function of its content alone.

    COPY keeps mtimes, so they must not depend on the machine or the checkout time (else
    the app layer differs per machine). One fixed mtime for every file is wrong, though:
    BuildKit's incremental context transfer takes a file of the same size and mtime as
    the copy it already has to be unchanged, so an edit that keeps the size (a version
    bump in poetry.lock) reached the build as the old file. Derived from the content,
    an edited file gets another mtime, and the same file the same one everywhere.
    """
    return EPOCH - int.from_bytes(hashlib.sha256(data).digest()[:4], "big") % (1 << 28)


def _tmp_prefix(out: Path) -> str:
    return f".{out.name}.oh-tmp-"


_OLD = "-old"  # the suffix of the previous directory while the new one is swapped in


def marker_text(files: Mapping[str, ContextFile]) -> bytes:
    lines = [MARKER_HEADER, _MANIFEST]
    lines += [f"{hashlib.sha256(f.data).hexdigest()}  {rel}" for rel, f in sorted(files.items())]
    return ("\n".join(lines) + "\n").encode()


def _manifest(out: Path, writing: Iterable[str]) -> dict[str, str | None] | None:
    """path -> sha256 of what oh-builder wrote in ``out`` (None: any content); None if no
    marker says what it wrote."""
    try:
        text = (out / MARKER).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if text == _OLD_MARKER:
        return dict.fromkeys(writing)
    lines = text.splitlines()
    if lines[:2] != [MARKER_HEADER, _MANIFEST]:
        return None
    files: dict[str, str | None] = {}
    for line in lines[2:]:
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64:
            return None
        files[rel] = digest
    return files


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_KEEP = "; move it out of the directory or pick another --output"


def _entries(out: Path) -> list[Path]:
    """Everything under ``out``, symbolic links not followed."""
    found = []
    for root, dirs, names in os.walk(out):
        found += [Path(root, n) for n in dirs + names]
    return sorted(found)


def foreign_entry(out: Path, writing: Iterable[str] = ()) -> str | None:
    """Why replacing ``out`` would lose something oh-builder did not write; None if not.

    Ours: an empty directory, or one whose every entry is a file its marker lists, with
    the content listed, a directory on the way to one, or ``logs/NAME.log``.
    ``writing``: the files about to be written (what an older marker stands for).
    """
    entries = _entries(out)
    if not entries:
        return None
    files = _manifest(out, writing)
    if files is None:
        return (
            f"exists and was not written by oh-builder (no {MARKER} file listing its "
            "files); pick another --output or remove the directory yourself"
        )
    dirs = {LOGS} | {str(p) for rel in files for p in Path(rel).parents if str(p) != "."}
    for p in entries:
        rel = p.relative_to(out).as_posix()
        if rel == MARKER:
            continue
        if p.is_dir() and not p.is_symlink():
            if rel not in dirs:
                return f"holds {rel}/, which oh-builder did not write{_KEEP}"
            continue
        kind_ok = p.is_file() and not p.is_symlink()
        if kind_ok and p.parent == out / LOGS and p.suffix == ".log":
            continue
        if rel not in files or not kind_ok:
            return f"holds {rel}, which oh-builder did not write{_KEEP}"
        if files[rel] not in (None, _sha256(p)):
            return f"{rel} was changed after oh-builder wrote it{_KEEP}"
    return None


def _lock_path(out: Path) -> Path:
    """A lock file per output directory, kept out of the user's tree (in the temp dir)."""
    locks = Path(tempfile.gettempdir()) / "oh-builder-locks"
    if not locks.is_dir():
        locks.mkdir(exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(locks, 0o1777)  # shared by every user, like /tmp
    key = hashlib.sha256(os.fsencode(out)).hexdigest()[:24]
    return locks / f"{key}.lock"


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Exclusive use of ``out`` (and its temporary siblings) for this process."""
    out = out.absolute()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(_lock_path(out), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the output directory: {exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise OutputError(
                f"{out}: in use by another oh-builder (pid {holder}); wait for it to finish "
                "or pass another --output"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _recover(out)
        yield
    finally:
        os.close(fd)  # releases the lock; the file stays (removing it would race)


def _recover(out: Path) -> None:
    """Finish what an interrupted run left (we hold the lock: no one else is writing).

    A run killed between the swap's two renames left the previous directory as
    ``.NAME.oh-tmp-*-old`` and no ``out``: it is renamed back. Everything else there is
    a half-written new directory, or an old one whose swap completed: removed.
    """
    leftovers = sorted(out.parent.glob(_tmp_prefix(out) + "*"))
    for p in leftovers:
        if p.name.endswith(_OLD) and not out.exists() and not out.is_symlink():
            os.rename(p, out)
        else:
            shutil.rmtree(p, ignore_errors=True)


def write_build_dir(out: Path, files: Mapping[str, ContextFile]) -> None:
    """Write ``files`` as ``out``, swapped in whole; hold ``output_lock(out)`` around it."""
    out = out.absolute()
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a directory; remove it or pick --output")
    if out.is_dir() and (why := foreign_entry(out, files)) is not None:
        raise OutputError(f"{out}: {why}")
    try:
        tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(out), dir=out.parent))
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the output directory: {exc}") from None
    try:
        marker = ContextFile(data=marker_text(files), executable=False)
        for rel, f in sorted({**files, MARKER: marker}.items()):
            p = tmp / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(f.data)
            os.chmod(p, 0o755 if f.executable else 0o644)
            mtime = content_mtime(f.data)
            os.utime(p, (mtime, mtime))
        # Directories too get one fixed mtime and mode (COPY keeps theirs as well, and the
        # app layer's openhands/ entry stands over the bundle's: never the user's umask).
        for d in sorted({p for p in tmp.rglob("*") if p.is_dir()} | {tmp}, reverse=True):
            os.chmod(d, 0o755)
            os.utime(d, (EPOCH, EPOCH))
        old = None
        if out.exists():
            old = tmp.with_name(tmp.name + _OLD)
            os.rename(out, old)
        try:
            os.rename(tmp, out)
        except BaseException:
            if old is not None:
                os.rename(old, out)  # put the previous directory back
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(f"{out}: cannot write the build directory: {exc}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
