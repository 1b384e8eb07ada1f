from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from builder.refs import parse_image_ref
from builder.tags import base_slug, runtime_tag, target_name_for

TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST = "sha256:" + "a" * 64
AWKWARD = [
    "debian:bookworm",
    "debian",
    "127.0.0.1:5000/oh-test/busybox:static",
    f"python@{DIGEST}",
    f"127.0.0.1:5000/x/y:z@{DIGEST}",
    "docker.io/swebench/sweb.eval.x86_64.astropy_1776_astropy-12907:latest",
    "docker.io/swebench/sweb.eval.x86_64." + "very_long_repository_name_" * 5 + "x:v1",
    "localhost/a_b:c",
    "localhost/a/b:c",
]


def test_slug_follows_openhands_conventions() -> None:
    assert base_slug("debian:bookworm") == "debian_t_bookworm"
    assert base_slug("127.0.0.1:5000/oh-test/busybox:static") == (
        "127.0.0.1_t_5000_s_oh-test_s_busybox_t_static"
    )


def test_awkward_tags_valid_and_distinct() -> None:
    tags = {runtime_tag(i, "d" * 16, "s" * 16, "r" * 16) for i in AWKWARD}
    assert len(tags) == len(AWKWARD)
    for t in tags:
        assert TAG.match(t), t


def test_tag_is_stable() -> None:
    assert runtime_tag("debian:bookworm", "0123456789abcdef", "fedcba9876543210", "r") == (
        "debian_t_bookworm-"
        + runtime_tag("debian:bookworm", "0123456789abcdef", "fedcba9876543210", "r").split("-", 1)[
            1
        ]
    )
    assert runtime_tag("debian:bookworm", "0123456789abcdef", "fedcba9876543210", "r").endswith(
        "-0123456789ab-fedcba987654"
    )


_component = st.from_regex(r"[a-z0-9]{1,12}([._-][a-z0-9]{1,12}){0,3}", fullmatch=True)
_refs = st.builds(
    lambda host, parts, tag: (
        (host + "/" if host else "") + "/".join(parts) + (":" + tag if tag else "")
    ),
    st.sampled_from(["", "127.0.0.1:5000", "registry.example.com", "localhost:1"]),
    st.lists(_component, min_size=1, max_size=4),
    st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,40}", fullmatch=True)),
)


@given(st.lists(_refs, min_size=2, max_size=6, unique=True))
def test_distinct_refs_never_share_a_tag(refs: list[str]) -> None:
    for r in refs:
        parse_image_ref(r)
    tags = [runtime_tag(r, "d" * 16, "s" * 16, "r") for r in refs]
    assert len(set(tags)) == len(tags)
    assert all(TAG.match(t) for t in tags)


@given(_refs)
def test_target_names_are_bake_safe(ref: str) -> None:
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", target_name_for(ref))


def test_parse_refs() -> None:
    r = parse_image_ref("127.0.0.1:5000/oh-test/busybox:static")
    assert (r.domain, r.path, r.tag) == ("127.0.0.1:5000", "oh-test/busybox", "static")
    r = parse_image_ref(f"python@{DIGEST}")
    assert (r.domain, r.path, r.tag, r.digest) == (None, "python", None, DIGEST)
    r = parse_image_ref("swebench/sweb.eval:latest")
    assert r.domain is None and r.path == "swebench/sweb.eval"


def test_the_locked_digest_is_in_the_tag() -> None:
    """Literal tags: a base that moved in its registry (a new digest in the lock) is a new
    tag with the same readable slug; the same digest is the same tag on any machine."""
    args = ("debian:bookworm", "0123456789abcdef", "fedcba9876543210", "r")
    old = runtime_tag(*args, pinned=f"debian:bookworm@sha256:{'1' * 64}")
    new = runtime_tag(*args, pinned=f"debian:bookworm@sha256:{'2' * 64}")
    assert old == "debian_t_bookworm-78b09392-0123456789ab-fedcba987654"
    assert new == "debian_t_bookworm-4ec8109d-0123456789ab-fedcba987654"
    assert runtime_tag(*args) == "debian_t_bookworm-ab46c104-0123456789ab-fedcba987654"
