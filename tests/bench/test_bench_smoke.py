"""The benchmark code runs (small N, no engine: report, lock bump, bake files); its
timings are never asserted. Not under tests/unit: matplotlib runs fc-list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench import compare, report
from tests.bench.plan_scale import main

REPO = Path(__file__).resolve().parents[2]


def test_plan_scale_smoke() -> None:
    result = main(40, buildx=False)
    assert result["runtime_targets"] == 40
    assert sum(result["bases_per_shard_of_8"]) == 40  # type: ignore[arg-type]


def test_lock_bump(tmp_path: Path) -> None:
    wheel = tmp_path / "idna-3.10-py3-none-any.whl"
    wheel.write_bytes(b"not really a wheel")
    lock = (REPO / "app" / "poetry.lock").read_text()
    new = compare.bump_locked(lock, "idna", "3.10", wheel)
    assert new != lock and 'name = "idna"\nversion = "3.10"' in new
    assert 'file = "idna-3.10-py3-none-any.whl", hash = "sha256:' in new
    assert new.count("[[package]]") == lock.count("[[package]]")
    with pytest.raises(ValueError):
        compare.bump_locked(lock, "no-such-package", "1.0", wheel)


def test_legacy_bake_file_and_two_stage_plan(tmp_path: Path) -> None:
    b = compare.Bench(
        work=tmp_path,
        run="smoke",
        logs=tmp_path / "logs",
        bases={"debian-bookworm": "debian:bookworm", "uid1000": "x/uid1000:bookworm"},
    )
    b.reset_app()
    hcl_file = b.legacy_file(["debian-bookworm", "uid1000"], "v1", b.bases)
    text = hcl_file.read_text()
    assert 'target "legacy-uid1000"' in text and 'BASE_IMAGE = "x/uid1000:bookworm"' in text
    assert (hcl_file.parent / "app" / "poetry.lock").is_file()
    plan = b.two_stage_plan(["debian-bookworm"])
    assert plan.runtime[0].ref.startswith("127.0.0.1:5000/bench-smoke/two-stage-runtime:")
    assert plan.deps[0].platforms == (compare.PLATFORM,)


def sample() -> dict[str, object]:
    def r(approach: str, scenario: str, seconds: float, **kw: object) -> dict[str, object]:
        base = {
            "approach": approach, "scenario": scenario, "ok": True, "seconds": seconds,
            "targets": 1, "steps_cached": 1, "steps_total": 2, "pushed_image_bytes": 10**6,
            "pushed_cache_bytes": 0, "blobs_uploaded": 2, "manifests_pushed": 2,
            "registry_growth_bytes": 10**5, "uploaded": [], "not_cached": [], "note": "",
        }  # fmt: skip
        return base | kw

    results = [r(a, s, 100.0 if a == "legacy" else 4.0) for a in ("legacy", "two-stage")
               for s in report.SCENARIOS]  # fmt: skip
    results += [r("two-stage", f"scale: {n} new bases", 3.0 * n) for n in (1, 2, 4)]
    return {
        "machine": {"when": "2026-11-26 00:00 UTC", "cpus": 2},
        "results": results,
        "not_possible": {"busybox": "/bin/sh: apt-get: not found"},
        "images": {
            "legacy": {"debian-bookworm": {"layers": 5, "compressed": 9, "uncompressed": 20}}
        },
        "extra": {
            "openhands_layer_compressed": 3 * 10**8,
            "app_change_uploads": {
                "app layer": 1, "other layers": 0, "configs": 6, "attestations": 6
            },
        },
        "planning": {"bases": 2294, "plan_and_write_seconds": 0.3, "bake_file_bytes": 2 * 10**6,
                     "bases_per_shard_of_8": [287] * 6 + [286] * 2},
    }  # fmt: skip


def test_report_writes_table_chart_and_json(tmp_path: Path) -> None:
    results = sample()
    results["ratios"] = report.ratios(results)
    assert results["ratios"]["add_base_time_vs_legacy_base"]["value"] == 0.04
    assert results["ratios"]["registry_growth_per_extra_image_vs_openhands_layer"]["met"]
    assert results["ratios"]["app_change_pushes_only_app_layer"]["met"]
    report.write(results, tmp_path)
    md = (tmp_path / "benchmarks.md").read_text()
    assert "| cold | legacy | 100.0 s |" in md and "not possible" in md and "4.0%" in md
    assert (tmp_path / "img" / "benchmarks.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "benchmarks.json").read_text())["ratios"]


def test_report_v1_and_docker_driver_rows(tmp_path: Path) -> None:
    results = sample()
    rows = results["results"]
    assert isinstance(rows, list)
    base = dict(rows[0])
    rows += [
        base | {"approach": "two-stage", "scenario": "V1 deps cold (amd64)", "seconds": 100.0},
        base | {"approach": "two-stage", "scenario": "V1 deps cold (arm64)", "seconds": 150.0},
        base | {"approach": report.DOCKER, "scenario": "one more base", "seconds": 8.0},
    ]
    extra = results["extra"]
    assert isinstance(extra, dict)
    extra["v1_start_to_ready"] = {"debian-bookworm": 6.5, "musl": 7.5, "conventional": 7.0}
    extra["many"] = {"bases": 100, "ok": True, "seconds": 150.0, "seconds_per_base": 1.5,
                     "unpack_seconds_per_base": 0.0, "growth_per_base": 50_000,
                     "pushed_image_bytes_per_base": 20_000}  # fmt: skip
    extra["many_docker_driver"] = dict(extra["many"], bases=10, seconds_per_base=9.0)
    extra["v1_layers"] = {"amd64": {"browser": {"compressed": 10**8, "uncompressed": 3 * 10**8}}}
    ratios = report.ratios(results)
    assert ratios["v1_arm64_deps_cold_vs_amd64"] == {
        "value": 1.5, "seconds": [100.0, 150.0], "target": "<= 2", "met": True
    }  # fmt: skip
    ready = ratios["v1_start_to_ready_vs_conventional"]
    assert ready["value"] == round(7.5 / 7.0, 2) and ready["met"] is False
    assert ratios["add_base_time_vs_legacy_base"]["docker_driver"] == 0.08
    assert ratios["many_bases"]["met"] and ratios["many_bases"]["docker_driver"]["bases"] == 10
    results["ratios"] = ratios
    report.write(results, tmp_path)
    md = (tmp_path / "benchmarks.md").read_text()
    assert "**V1 agent-server deps cold**: amd64 100 s, arm64 150 s" in md
    assert "| conventional | 7.00 s |" in md and "| amd64 | browser | 100.0 MB | 300.0 MB |" in md
    assert "on the docker driver, beside it: 8.0%" in md
