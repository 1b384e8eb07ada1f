"""Lock a Poetry project against the simple index that pip is configured to use.

Poetry resolves PyPI packages through PyPI's JSON API, which the package mirrors on
these machines do not serve (only the simple index). This runs ``poetry lock`` with
a temporary primary source pointing at pip's index, then removes that source from the
lock again and recomputes the lock's content hash for the unmodified pyproject.toml,
so the committed poetry.lock is an ordinary one that names no mirror.

Usage: python tests/tools/poetry_lock.py APP_DIR   (needs poetry in the same venv)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def pip_index_url() -> str:
    out = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.index-url"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if out:
        return out
    from pip._internal.models.index import PyPI

    return str(PyPI.simple_url)


def main(app: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copy(app / "pyproject.toml", work / "pyproject.toml")
        if (app / "poetry.lock").exists():
            shutil.copy(app / "poetry.lock", work / "poetry.lock")
        with (work / "pyproject.toml").open("a") as f:
            f.write(
                f'\n[[tool.poetry.source]]\nname = "index"\nurl = "{pip_index_url()}"\n'
                'priority = "primary"\n'
            )
        poetry = [sys.executable, "-m", "poetry", "--no-interaction", "--directory", str(work)]
        subprocess.run([*poetry, "lock"], check=True)
        lock = (work / "poetry.lock").read_text()
    # Drop the temporary source from every package, then fix the content hash.
    lock = re.sub(
        r'\n\[package\.source\]\ntype = "legacy"\nurl = "[^"]*"\nreference = "index"\n', "\n", lock
    )
    from poetry.factory import Factory

    poetry_obj = Factory().create_poetry(app)
    content_hash = poetry_obj.locker._get_content_hash()
    lock = re.sub(r'content-hash = "[0-9a-f]+"', f'content-hash = "{content_hash}"', lock)
    (app / "poetry.lock").write_text(lock)
    print(f"wrote {app / 'poetry.lock'}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "app").resolve())
