"""Two runners that share only the registry (docs/ci.md): the deps image once per
platform, runtime shards on two BuildKit daemons at once, then `oh-builder merge`."""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from pathlib import Path

from tests.conftest import BASE_CONFIG
from tests.e2e import registry
from tests.e2e.buildlog import from_cache
from tests.e2e.conftest import BIN, DAEMON, LOGS, REPO, lock_config, sh
from tests.e2e.timings import timed

OH = str(BIN / "oh-builder")
PLATFORMS = ("linux/amd64", "linux/arm64")
BASES = {
    "debian:bookworm": "debian-bookworm",
    "debian:trixie": "debian-trixie",
    "127.0.0.1:5000/oh-test/busybox:static": "busybox",
    "127.0.0.1:5000/oh-test/musl:latest": "musl",
}
# What a deps stage's step looks like in a runtime build's log (its `target:` context).
DEPS_STEP = re.compile(
    r"^#(\d+) \[[^\]]*(?:host|requirements|python-debs|system|wheels|venv|browser|check)"
    r"[^\]]*\] (?:RUN|COPY)",
    re.M,
)


def scale_config(tmp_path: Path) -> Path:
    """The sample config in repositories of its own, four bases, a new app source (new
    runtime tags on every run; the same deps image)."""
    app = tmp_path / "app"
    (app / "action_server").mkdir(parents=True)
    for f in ("pyproject.toml", "poetry.lock"):
        (app / f).write_bytes((REPO / "app" / f).read_bytes())
    (app / "action_server" / "__init__.py").write_text(f"# {uuid.uuid4().hex}\n")
    cfg = tmp_path / "builder.toml"
    head = BASE_CONFIG
    for old, new in (
        ("openhands/runtime", "openhands/scale"),
        ("openhands/runtime-deps", "openhands/scale-deps"),
        ("openhands/runtime-cache", "openhands/scale-cache"),
    ):
        head = head.replace(f'"127.0.0.1:5000/{old}"', f'"127.0.0.1:5000/{new}"')
    bases = "".join(f'[[bases]]\nimage = "{i}"\nname = "{n}"\n' for i, n in BASES.items())
    cfg.write_text(head + bases)
    lock_config(cfg)
    return cfg


def test_shards_on_two_runners_share_only_the_registry(runner2: str, tmp_path: Path) -> None:
    cfg = scale_config(tmp_path)
    sh("docker", "buildx", "prune", "-af", "--builder", runner2)  # nothing of its own
    # A cache branch of this run's own: what the second runner imports is what this
    # run's deps jobs exported, nothing older.
    branch = ["--cache-branch", f"scale-{uuid.uuid4().hex[:8]}"]
    common = ["--progress", "plain", "-c", str(cfg), *branch]
    for p in PLATFORMS:
        arch = p.split("/")[1]
        with timed(f"deps job ({arch}) on {DAEMON}: pushed, cache exported"):
            sh(
                OH, "deps", "--platform", p, "--push", "--force", "--builder", DAEMON, *common,
                "--output", str(tmp_path / f"deps-{arch}"), log=LOGS / f"scale-deps-{arch}.log",
            )  # fmt: skip
    metas: list[Path] = []
    for p in PLATFORMS:
        arch = p.split("/")[1]
        runs = {}
        t0 = time.monotonic()
        for shard, builder in (("1/2", DAEMON), ("2/2", runner2)):
            key = f"{arch}-{shard[0]}"
            meta = tmp_path / f"meta-{key}.json"
            log = LOGS / f"scale-shard-{key}.log"
            cmd = [
                OH, "bake", "--push", "--platform", p, "--shard", shard, "--builder", builder,
                *common, "--output", str(tmp_path / f"shard-{key}"), "--metadata-file", str(meta),
            ]  # fmt: skip
            with log.open("w") as f:
                proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=REPO)
            runs[key] = (proc, meta, log, builder)
        with timed(f"runtime shards 1/2 on {DAEMON} and 2/2 on {runner2} at once ({arch})") as fig:
            for key, (proc, meta, log, builder) in runs.items():
                code = proc.wait(timeout=3600)
                assert code == 0, f"shard {key} on {builder} exited {code}; log: {log}"
                done = {d["target"]: d for d in json.loads(meta.read_text())}
                # The deps job pushed this platform's deps image: each shard finds it.
                assert done["deps"]["status"] == "exists", done["deps"]
                runtime = [d for t, d in done.items() if t != "deps"]
                assert runtime and {d["status"] for d in runtime} == {"built"}, runtime
                fig[f"shard {key} ({builder}) cached/total"] = ", ".join(
                    f"{d['target']} {d['cached_steps']}/{d['total_steps']} {d['seconds']} s"
                    for d in runtime
                )
                # No deps step ran again: each one the runtime build shows came from the
                # registry cache (the second runner has no cache of its own).
                text = log.read_text()
                ran = sorted(set(DEPS_STEP.findall(text)) - from_cache(text), key=int)
                assert not ran, f"shard {key} on {builder} ran deps steps {ran}; log: {log}"
                metas.append(meta)
            fig["seconds"] = f"{time.monotonic() - t0:.1f}"
    with timed("oh-builder merge of the four shards' metadata") as fig:
        r = sh(OH, "merge", "-c", str(cfg), *map(str, metas))
        fig["tags merged"] = str(r.stdout.count(" sha256:"))
    (LOGS / "scale-merge.log").write_text(r.stdout + r.stderr)
    tags = json.loads(sh(OH, "tags", "--json", "-c", str(cfg)).stdout)
    pushed = [d for m in metas for d in json.loads(m.read_text())]
    for image in BASES:
        ref = tags["runtime"][image]
        merged = registry.platform_manifests(ref)
        assert set(merged) == set(PLATFORMS), (ref, list(merged))
        target = f"runtime-{BASES[image]}"
        for p in PLATFORMS:
            (entry,) = [d for d in pushed if d["target"] == target and d["platforms"] == [p]]
            own = registry.platform_manifests(entry["ref"]).get(p) or registry.get(entry["ref"])
            assert merged[p] == own, (ref, p)
    assert set(registry.platform_manifests(tags["deps"])) == set(PLATFORMS)
