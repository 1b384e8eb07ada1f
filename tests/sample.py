"""The sample app profile (profiles/sample.toml): the suite's and the benchmarks' fast
fixture. builder.toml, the default config, bakes OpenHands' agent-server."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE_CONFIG = REPO / "profiles" / "sample.toml"


def sample_head(app: Path = REPO / "app") -> str:
    """The sample config up to its first [[bases]], with deps.app pointing at ``app`` (an
    absolute path, so the text works from any directory)."""
    head = SAMPLE_CONFIG.read_text().split("[[bases]]", 1)[0]
    old = 'app = "../app"\n'
    assert old in head, f"{SAMPLE_CONFIG}: no {old.strip()!r}"
    return head.replace(old, f"app = {json.dumps(str(app))}\n", 1)
