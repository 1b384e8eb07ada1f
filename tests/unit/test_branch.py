from __future__ import annotations

from builder.branch import cache_branch


def test_explicit_wins() -> None:
    assert cache_branch("feature/x", {"GITHUB_REF_NAME": "other"}) == "feature/x"


def test_ci_variables() -> None:
    assert cache_branch(None, {"GITHUB_HEAD_REF": "pr-src", "GITHUB_REF_NAME": "9/merge"}) == (
        "pr-src"
    )
    assert cache_branch(None, {"CI_COMMIT_REF_NAME": "gl"}) == "gl"
