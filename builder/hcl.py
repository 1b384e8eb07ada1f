"""Quote values for HCL so buildx reads back exactly the bytes we meant."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def hcl_string(value: str) -> str:
    """A double-quoted HCL string literal whose value is ``value``, byte for byte.

    Besides the usual escapes, ``${`` and ``%{`` would start an interpolation or a
    directive: they are written ``$${`` and ``%%{``.
    """
    out = ['"']
    n = len(value)
    for i, ch in enumerate(value):
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch in "$%" and i + 1 < n and value[i + 1] == "{":
            out.append(ch + ch)
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def hcl_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(hcl_string(v) for v in values) + "]"


def hcl_map(values: Mapping[str, str], indent: str = "") -> str:
    if not values:
        return "{}"
    inner = "".join(f"{indent}  {hcl_string(k)} = {hcl_string(v)}\n" for k, v in values.items())
    return "{\n" + inner + indent + "}"
