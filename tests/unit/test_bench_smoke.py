"""The planning benchmark runs (small N, without buildx); its timings are not asserted."""

from __future__ import annotations

from tests.bench.plan_scale import main


def test_plan_scale_smoke() -> None:
    result = main(40, buildx=False)
    assert result["runtime_targets"] == 40
    assert sum(result["bases_per_shard_of_8"]) == 40  # type: ignore[arg-type]
