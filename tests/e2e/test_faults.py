"""The fault table (docs/reliability.md): what a bake does when the registry fails."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path
from subprocess import STDOUT
from typing import IO, Any

from tests.conftest import BASE_CONFIG
from tests.e2e import registry
from tests.e2e.conftest import BIN, DAEMON, LOGS, lock_config, sh
from tests.e2e.faults import Faults, flaky_registry
from tests.e2e.timings import timed

OH = str(BIN / "oh-builder")
UPSTREAM = "127.0.0.1:5000"
FLAKY = "127.0.0.1:5001"  # tests/engine/buildkitd.sh lets the daemon speak HTTP to it


def missing_blobs(ref: str) -> list[str]:
    """The blobs a tag's manifests name that the registry does not have."""
    host, rest = ref.split("/", 1)
    repo = rest.rsplit(":", 1)[0]
    missing = []
    top = registry.get(ref)
    manifests = [registry.get(ref, m["digest"]) for m in top.get("manifests", [])] or [top]
    for m in manifests:
        for blob in [m.get("config", {}), *m.get("layers", [])]:
            if not blob:
                continue
            req = urllib.request.Request(
                f"http://{host}/v2/{repo}/blobs/{blob['digest']}", method="HEAD"
            )
            try:
                with urllib.request.urlopen(req, timeout=30):
                    pass
            except OSError:
                missing.append(blob["digest"])
    return missing


def test_transient_registry_errors_are_retried(
    baked: dict[str, object], tmp_path: Path, app_dir: Path
) -> None:
    """Every 7th registry request answered 500 or 429 (six at most): the bake still
    pushes every target (a target the registry failed is baked again after 2 s, then
    6 s), no tag points at a missing blob, and a rerun pushes nothing."""
    head = BASE_CONFIG.replace(f"{UPSTREAM}/openhands/", f"{FLAKY}/openhands/flaky-")
    head = head.replace('platforms = ["linux/amd64", "linux/arm64"]', 'platforms = ["linux/amd64"]')
    cfg = tmp_path / "builder.toml"
    cfg.write_text(
        head + '[[bases]]\nimage = "127.0.0.1:5000/oh-test/busybox:static"\nname = "busybox"\n'
    )
    lock_config(cfg)
    meta = tmp_path / "meta.json"
    args = ["--builder", DAEMON, "--progress", "plain", "-c", str(cfg),
            "--output", str(tmp_path / "build"), "--metadata-file", str(meta)]  # fmt: skip
    with flaky_registry(FLAKY, UPSTREAM, Faults(every=7, limit=6)) as faults:
        with timed("bake --push --force through a registry failing every 7th request") as f:
            r = sh(OH, "bake", "--push", "--force", *args, log=LOGS / "faults-bake.log",
                   check=False)  # fmt: skip
            f["requests"] = str(faults.seen)
            f["injected"] = ", ".join(f"{s} {m}" for s, m, _ in faults.injected)
            log = (tmp_path / "build" / "logs").glob("*.log")
            retried = sum(p.read_text().count("transient registry error") for p in log)
            f["targets baked again"] = str(retried)
            f["exit"] = str(r.returncode)
        text = (LOGS / "faults-bake.log").read_text()
        assert r.returncode == 0, text[-3000:]
        assert faults.injected, "no fault was injected: the test tested nothing"
        done: list[dict[str, Any]] = json.loads(meta.read_text())
        assert {d["status"] for d in done} == {"built"}, done
        for d in done:
            ref = str(d["ref"]).replace(FLAKY, UPSTREAM, 1)
            assert not missing_blobs(ref), (ref, missing_blobs(ref))
        before = registry.storage()
        with timed("the rerun through the same proxy (no faults left)") as f:
            sh(OH, "bake", "--push", *args, log=LOGS / "faults-rerun.log")
            after = registry.storage()
            f["bytes re-pushed"] = str(after[1] - before[1])
        assert {d["status"] for d in json.loads(meta.read_text())} == {"exists"}
        assert after == before


def test_two_bakes_of_one_config_at_once(
    baked: dict[str, object], tmp_path: Path, app_dir: Path
) -> None:
    """The same config baked twice at once (two CI jobs, two terminals), each into an
    output directory of its own: both finish, push the same tags (content hashes), and
    every blob under them is there."""
    (app_dir / "action_server" / "__init__.py").write_text(f"# {tmp_path.name}\n")
    head = BASE_CONFIG.replace(
        'platforms = ["linux/amd64", "linux/arm64"]', 'platforms = ["linux/amd64"]'
    )
    cfg = tmp_path / "builder.toml"
    cfg.write_text(
        head + '[[bases]]\nimage = "127.0.0.1:5000/oh-test/busybox:static"\nname = "busybox"\n'
    )
    lock_config(cfg)
    with timed("two bakes of one config at once (amd64, busybox), each its own output") as f:
        logs = [(LOGS / f"bake-twice-{i}.log").open("w") for i in (1, 2)]

        def start(i: int, log: IO[str]) -> subprocess.Popen[bytes]:
            out = ["--output", str(tmp_path / f"build-{i}")]
            meta = ["--metadata-file", str(tmp_path / f"meta-{i}.json")]
            cmd = [OH, "bake", "--push", "--builder", DAEMON, "-c", str(cfg), *out, *meta]
            return subprocess.Popen([*cmd, "--progress", "plain"], stdout=log, stderr=STDOUT)

        procs = [start(i, log) for i, log in zip((1, 2), logs, strict=True)]
        codes = [p.wait(timeout=1800) for p in procs]
        for log in logs:
            log.close()
        f["exit codes"] = ", ".join(map(str, codes))
    assert codes == [0, 0], [(LOGS / f"bake-twice-{i}.log").read_text()[-2000:] for i in (1, 2)]
    runs = [
        {d["target"]: d for d in json.loads((tmp_path / f"meta-{i}.json").read_text())}
        for i in (1, 2)
    ]
    assert {t: d["ref"] for t, d in runs[0].items()} == {t: d["ref"] for t, d in runs[1].items()}
    for d in runs[0].values():
        assert {r[d["target"]]["status"] for r in runs} <= {"built", "exists"}, runs
        assert not missing_blobs(str(d["ref"])), d["ref"]
