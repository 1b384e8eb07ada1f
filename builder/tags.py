"""Content hashes and tag names. Pure functions: same input, same tag, on any machine.

See docs/tags.md for the scheme.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

from builder.refs import parse_image_ref

_SLUG_MAX = 88
_NAME_MAX = 64
_TAG_OK = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_hash(parts: Mapping[str, bytes]) -> str:
    """A hash over named byte strings, independent of their order (16 hex characters)."""
    h = hashlib.sha256()
    for name in sorted(parts):
        data = parts[name]
        h.update(f"{name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()[:16]


def tree_hash(files: Iterable[tuple[str, bytes, bool]]) -> str:
    """Hash of (relative path, content, executable) triples: the app's source tree."""
    parts = {f"{path}{'*' if exe else ''}": data for path, data, exe in files}
    return content_hash(parts)


def base_slug(image: str) -> str:
    """OpenHands-style readable slug of an image reference.

    ``/`` becomes ``_s_``, ``:`` ``_t_``, ``@`` ``_at_``; lower case; anything else
    outside ``[a-z0-9_.-]`` becomes ``_``; a long slug keeps its tail behind a hash.
    """
    s = image.lower().replace("/", "_s_").replace(":", "_t_").replace("@", "_at_")
    s = re.sub(r"[^a-z0-9_.-]", "_", s)
    if len(s) > _SLUG_MAX:
        s = f"{_sha(image.encode())[:8]}_{s[-(_SLUG_MAX - 9) :]}"
    if not re.match(r"[a-z0-9_]", s):
        s = "_" + s[1:] if len(s) >= _SLUG_MAX else "_" + s
    return s


def runtime_tag(
    image: str, deps_hash: str, source_hash: str, runtime_hash: str, *, pinned: str = ""
) -> str:
    """``{slug}-{base}-{deps}-{source}``. ``base`` hashes what is built on (``pinned``:
    the reference with its locked digest) and the runtime Dockerfile: a base that moved is
    a new tag, and two references never share one even when their slugs agree."""
    base = _sha(f"{pinned or image}\0{runtime_hash}".encode())[:8]
    tag = f"{base_slug(image)}-{base}-{deps_hash[:12]}-{source_hash[:12]}"
    assert _TAG_OK.match(tag), tag
    return tag


def target_name_for(image: str) -> str:
    """A bake-safe name (``[A-Za-z0-9_-]``, <= 64) derived from an image reference."""
    ref = parse_image_ref(image)
    text = ref.path.removeprefix("library/")
    if ref.tag:
        text += f"-{ref.tag}"
    if ref.digest:
        text += f"-{ref.digest.split(':', 1)[1][:12]}"
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "base"
    if len(name) > _NAME_MAX:
        name = f"{name[: _NAME_MAX - 17].rstrip('-')}-{_sha(image.encode())[:16]}"
    return name


def ref_tag_safe(text: str) -> str:
    """Make ``text`` (a branch name, a target name) usable inside a tag."""
    s = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.") or "x"
    if len(s) > 60:
        s = f"{s[:43]}-{_sha(text.encode())[:16]}"
    return s
