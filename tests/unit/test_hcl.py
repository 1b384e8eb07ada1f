from __future__ import annotations

from builder.hcl import hcl_map, hcl_string


def test_escapes() -> None:
    assert hcl_string('a"b\\c') == '"a\\"b\\\\c"'
    assert hcl_string("${x} %{y} $z %w") == '"$${x} %%{y} $z %w"'
    assert hcl_string("line\nnext\ttab\r") == '"line\\nnext\\ttab\\r"'
    assert hcl_string("\x01é☃") == '"\\u0001é☃"'
    assert hcl_string("$${") == '"$$${"'


def test_map() -> None:
    assert hcl_map({}) == "{}"
    assert hcl_map({"k": "v"}) == '{\n  "k" = "v"\n}'
