"""The bundle's layers and their keys, read off the rendered deps Dockerfile itself.

A layer's key hashes the text of the stages it is built from (its stage and, through
``FROM``, ``--from=`` and ``from=``, every stage that one uses) and the build-directory
files those stages read (``COPY`` sources, bind-mount sources). The template is
rendered once with placeholder keys, the keys are computed from that text, and the
template is rendered again with them: a layer's key cannot miss an input its stages
have, nor depend on a stage it is not built from. Editing the venv stage, or a script
only the venv stage mounts, keys the venv layer alone; editing the check stage keys no
layer at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from builder.outdir import ContextFile
from builder.tags import content_hash

# layer -> (the stage it is built from, build-directory files it reads besides its
# stages' own). The setup kit is assembled in the final stage from the system stage's
# busybox; its key covers only the script it runs (and the host stage, the deps base).
LAYERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "system": ("system", ()),
    "venv": ("venv", ()),
    "browser": ("browser", ()),
    "setup": ("host", ("wrappers/share/setup.sh",)),
}
PLACEHOLDER = "@{}@"

_FROM = re.compile(r"^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", re.I | re.M)
_REF = re.compile(r"(?:--from=|\bfrom=)([A-Za-z0-9_.-]+)")
_COPY = re.compile(r"^COPY\s+(?!.*--from=)(?:--\S+\s+)*(.+?)\s+\S+\s*$", re.M)
_BIND = re.compile(r"--mount=type=bind,(?![^ ]*\bfrom=)[^ ]*?\bsource=([^, ]+)")


def placeholders(names: tuple[str, ...] = tuple(LAYERS)) -> dict[str, str]:
    """Template context: every ``NAME_key`` as a placeholder, for the first render."""
    return {f"{n}_key": PLACEHOLDER.format(n) for n in names}


def stages(dockerfile: str) -> dict[str, str]:
    """Stage name -> its text (from its FROM line to the next); lines joined."""
    text = dockerfile.replace("\\\n", " ")
    starts = list(_FROM.finditer(text))
    out: dict[str, str] = {}
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        body = "\n".join(
            line for line in text[m.start() : end].splitlines() if not line.startswith("#")
        )
        out[m.group(2) or f"stage-{i}"] = body
    return out


def closure(name: str, all_stages: Mapping[str, str]) -> list[str]:
    """``name`` and every stage it uses, transitively, in a fixed order."""
    seen: list[str] = []
    todo = [name]
    while todo:
        s = todo.pop()
        if s in seen or s not in all_stages:
            continue
        seen.append(s)
        text = all_stages[s]
        first = _FROM.match(text)
        todo += [first.group(1)] if first else []
        todo += _REF.findall(text)
    return sorted(seen)


def reads(text: str) -> list[str]:
    """Build-directory paths a stage reads: COPY sources (not --from) and bind mounts
    without from= (a path ending in / means everything under it)."""
    found: list[str] = []
    for m in _COPY.finditer(text):
        found += m.group(1).split()
    found += _BIND.findall(text)
    return found


def _matches(path: str, wanted: list[str]) -> bool:
    return any(path == w or (w.endswith("/") and path.startswith(w)) for w in wanted)


def layer_keys(dockerfile: str, files: Mapping[str, ContextFile]) -> dict[str, str]:
    """``NAME_key`` for each layer whose stage the rendered ``dockerfile`` (rendered with
    :func:`placeholders`) has; ``files`` is the build directory (relative path ->
    content)."""
    all_stages = stages(dockerfile)
    keys: dict[str, str] = {}
    for layer, (stage, extra) in LAYERS.items():
        if stage not in all_stages:
            continue
        names = closure(stage, all_stages)
        wanted = [*extra, *(p for n in names for p in reads(all_stages[n]))]
        parts = {f"stage {n}": all_stages[n].encode() for n in names}
        parts |= {
            f"{path}{'*' if f.executable else ''}": f.data
            for path, f in sorted(files.items())
            if _matches(path, wanted)
        }
        keys[f"{layer}_key"] = content_hash(parts)
    return keys
