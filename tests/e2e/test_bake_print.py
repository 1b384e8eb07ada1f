"""The generated bake file through the real `docker buildx bake --print`."""

from __future__ import annotations

import json
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.config import load_config
from builder.lockfile import read_lock
from builder.outdir import write_build_dir
from builder.plan import Selection
from builder.prepare import prepare
from tests.conftest import BASE_CONFIG, REPO, fake_digest, write_fake_lock

DIGEST = "sha256:" + "0123456789abcdef" * 4


def bake_print(build: Path, cwd: Path) -> dict[str, object]:
    r = subprocess.run(
        ["docker", "buildx", "bake", "-f", str(build / "docker-bake.hcl"), "--print"],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def plan_and_print(config: Path, tmp: Path) -> tuple[dict[str, object], object]:
    """Plan (a config of its own gets a lock of made-up digests: printing resolves
    nothing) and print the bake file with buildx."""
    if not config.with_suffix(".lock").exists():
        write_fake_lock(config)
    prepared = prepare(load_config(config), Selection(), build_dir="build")
    write_build_dir(tmp / "build", prepared.files)
    return bake_print(tmp / "build", tmp), prepared.plan


def test_default_config_print(engine: None, tmp_path: Path) -> None:
    """builder.toml (OpenHands' agent-server on six bases) prints with buildx as planned."""
    data, plan = plan_and_print(REPO / "builder.toml", tmp_path)
    targets = data["target"]
    assert isinstance(targets, dict)
    assert targets["deps"]["platforms"] == ["linux/amd64", "linux/arm64"]
    runtime = {n: t for n, t in targets.items() if n.startswith("runtime-")}
    assert sorted(runtime) == sorted(r.name for r in plan.runtime)  # type: ignore[attr-defined]
    assert len(runtime) == 6
    for t in runtime.values():
        assert t["contexts"] == {"deps": "target:deps"}
        assert t["platforms"] == ["linux/amd64", "linux/arm64"]
        assert t["dockerfile"] == "runtime.Dockerfile"
    lock = read_lock(REPO / "builder.lock").entries
    assert runtime["runtime-debian-bookworm"]["args"]["BASE_IMAGE"] == (
        f"debian:bookworm@{lock['debian:bookworm'].digest}"
    )
    assert data["group"]["default"]["targets"] == ["deps", "runtime"]


def test_platform_subset_gets_own_deps_target(engine: None, tmp_path: Path, app_dir: Path) -> None:
    cfg = tmp_path / "builder.toml"
    cfg.write_text(
        BASE_CONFIG + '[[bases]]\nimage = "debian:bookworm"\n'
        '[[bases]]\nimage = "127.0.0.1:5000/oh-test/busybox:static"\nname = "busybox"\n'
        'platforms = ["linux/amd64"]\n'
    )
    data, _ = plan_and_print(cfg, tmp_path)
    targets = data["target"]
    assert isinstance(targets, dict)
    busybox = targets["runtime-busybox"]
    assert busybox["platforms"] == ["linux/amd64"]
    assert busybox["contexts"] == {"deps": "target:deps-amd64"}
    assert targets["deps-amd64"]["platforms"] == ["linux/amd64"]
    assert targets["runtime-debian-bookworm"]["contexts"] == {"deps": "target:deps"}


def test_awkward_bases_print(engine: None, tmp_path: Path, app_dir: Path) -> None:
    long_name = "swebench/sweb.eval.x86_64." + "django_1776_django-11099_" * 5 + "x:latest"
    bases = [
        "127.0.0.1:5000/oh-test/busybox:static",
        f"python@{DIGEST}",
        f"127.0.0.1:5000/a/b:c@{DIGEST}",
        "ubuntu",
        long_name,
    ]
    cfg = tmp_path / "builder.toml"
    cfg.write_text(BASE_CONFIG + "".join(f'[[bases]]\nimage = "{b}"\n' for b in bases))
    data, _ = plan_and_print(cfg, tmp_path)
    targets = data["target"]
    assert isinstance(targets, dict)
    images = sorted(t["args"]["BASE_IMAGE"] for n, t in targets.items() if n.startswith("runtime-"))
    assert images == sorted(b if "@" in b else f"{b}@{fake_digest(b)}" for b in bases)
    for name, t in targets.items():
        for tag in t["tags"]:
            assert len(tag.rsplit(":", 1)[1]) <= 128, (name, tag)


# Any text the config accepts: NFC (HCL normalizes strings, so the config refuses others
# with a one-line error; tests/unit/test_config.py), no NUL, no lone surrogate.
def nfc(s: str) -> bool:
    return unicodedata.is_normalized("NFC", s)


text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=0,
    max_size=40,
).filter(nfc) | st.sampled_from(
    ['"', "\\", "${x}", "%{y}", "$${", "a\nb", "\t", "é☃💥", "\\n", "$", "%"]
)
key = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=20,
).filter(nfc)


def toml_str(value: str) -> str:
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    labels=st.dictionaries(key, text, max_size=4),
    args=st.dictionaries(st.from_regex(r"[A-Z_][A-Z0-9_]{0,10}", fullmatch=True), text, max_size=3),
)
def test_strings_arrive_byte_for_byte(
    engine: None,
    tmp_path_factory: pytest.TempPathFactory,
    labels: dict[str, str],
    args: dict[str, str],
) -> None:
    tmp = tmp_path_factory.mktemp("hyp")
    app = tmp / "app"
    (app / "action_server").mkdir(parents=True)
    (app / "action_server" / "__init__.py").write_text("")  # the entrypoint's package
    for f in ("pyproject.toml", "poetry.lock"):
        shutil.copy(REPO / "app" / f, app / f)
    toml_labels = "".join(f"{toml_str(k)} = {toml_str(v)}\n" for k, v in labels.items())
    toml_args = ", ".join(f"{k} = {toml_str(v)}" for k, v in args.items())
    head = BASE_CONFIG.replace(
        '[labels]\n"org.opencontainers.image.source" = "https://example.invalid/repo"\n',
        f"[labels]\n{toml_labels}",
    ).replace(
        'platforms = ["linux/amd64", "linux/arm64"]\n',
        f'platforms = ["linux/amd64", "linux/arm64"]\nargs = {{ {toml_args} }}\n',
        1,
    )
    cfg = tmp / "builder.toml"
    cfg.write_text(head + '[[bases]]\nimage = "debian:bookworm"\n')
    data, _ = plan_and_print(cfg, tmp)
    targets = data["target"]
    assert isinstance(targets, dict)
    for name in ("deps", "runtime-debian-bookworm"):
        t = targets[name]
        for k, v in labels.items():
            assert t["labels"][k] == v
        for k, v in args.items():
            assert t.get("args", {})[k] == v
