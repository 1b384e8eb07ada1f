"""The generated bake file through the real `docker buildx bake --print`."""

from __future__ import annotations

import json
import shutil
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
from tests.e2e import registry
from tests.e2e.conftest import DAEMON, LOGS, OLD_BUILDX, lock_config, sh
from tests.sample import sample_head

DIGEST = "sha256:" + "0123456789abcdef" * 4
# The buildx in use (Debian sid's 0.29.1) and Debian stable's 0.13.1: the generated file
# must work unchanged with both.
BUILDX = {"buildx-0.29": {}, "buildx-0.13": OLD_BUILDX}


def buildx_version(env: dict[str, str]) -> str:
    return sh("docker", "buildx", "version", env=env).stdout.split()[1]


def bake_print(build: Path, cwd: Path, env: dict[str, str] | None = None) -> dict[str, object]:
    r = sh(
        "docker", "buildx", "bake", "-f", str(build / "docker-bake.hcl"), "--print",
        cwd=cwd, env=env, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def plan_and_print(
    config: Path, tmp: Path, env: dict[str, str] | None = None
) -> tuple[dict[str, object], object]:
    """Plan (a config of its own gets a lock of made-up digests: printing resolves
    nothing) and print the bake file with buildx."""
    if not config.with_suffix(".lock").exists():
        write_fake_lock(config)
    prepared = prepare(load_config(config), Selection(), build_dir="build")
    write_build_dir(tmp / "build", prepared.files)
    return bake_print(tmp / "build", tmp, env), prepared.plan


@pytest.mark.parametrize("buildx", list(BUILDX))
def test_default_config_print(engine: None, tmp_path: Path, buildx: str) -> None:
    """builder.toml (OpenHands' agent-server on six bases) prints with buildx as planned,
    with the current buildx and with Debian stable's."""
    assert buildx_version(BUILDX[buildx]).startswith(buildx.split("-")[1])
    data, plan = plan_and_print(REPO / "builder.toml", tmp_path, BUILDX[buildx])
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


@pytest.mark.parametrize("buildx", list(BUILDX))
def test_platform_subset_gets_own_deps_target(
    engine: None, tmp_path: Path, app_dir: Path, buildx: str
) -> None:
    cfg = tmp_path / "builder.toml"
    cfg.write_text(
        BASE_CONFIG + '[[bases]]\nimage = "debian:bookworm"\n'
        '[[bases]]\nimage = "127.0.0.1:5000/oh-test/busybox:static"\nname = "busybox"\n'
        'platforms = ["linux/amd64"]\n'
    )
    data, _ = plan_and_print(cfg, tmp_path, BUILDX[buildx])
    targets = data["target"]
    assert isinstance(targets, dict)
    busybox = targets["runtime-busybox"]
    assert busybox["platforms"] == ["linux/amd64"]
    assert busybox["contexts"] == {"deps": "target:deps-amd64"}
    assert targets["deps-amd64"]["platforms"] == ["linux/amd64"]
    assert targets["runtime-debian-bookworm"]["contexts"] == {"deps": "target:deps"}


@pytest.mark.parametrize("buildx", list(BUILDX))
def test_awkward_bases_print(engine: None, tmp_path: Path, app_dir: Path, buildx: str) -> None:
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
    data, _ = plan_and_print(cfg, tmp_path, BUILDX[buildx])
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
    for buildx, env in BUILDX.items():
        data, _ = plan_and_print(cfg, tmp, env)
        targets = data["target"]
        assert isinstance(targets, dict)
        read = unprint if buildx == "buildx-0.29" else str
        for name in ("deps", "runtime-debian-bookworm"):
            t = targets[name]
            for k, v in labels.items():
                assert read(t["labels"][k]) == v, buildx
            for k, v in args.items():
                assert read(t.get("args", {})[k]) == v, buildx


def unprint(printed: str) -> str:
    """The value behind a string of buildx 0.29's `--print`, which escapes every `${` and
    `%{` again (as `$${`, `%%{`) so that its output reads back as a bake file. Builds get
    the value itself: checked by hand with an image label (docs/engine.md)."""
    return printed.replace("$${", "${").replace("%%{", "%{")


@pytest.mark.parametrize("buildx", list(BUILDX))
def test_the_bake_file_builds_by_hand(
    baked: dict[str, object], tmp_path: Path, buildx: str
) -> None:
    """`docker buildx bake -f build/docker-bake.hcl` without Python, as its header says, on
    the daemon builder: a current buildx refuses it without the header's --allow and
    builds with it; Debian stable's buildx (no --allow) builds it as it is."""
    cfg = tmp_path / "builder.toml"
    cfg.write_text(
        sample_head().replace(
            'platforms = ["linux/amd64", "linux/arm64"]', 'platforms = ["linux/amd64"]', 1
        )
        + '[[bases]]\nimage = "debian:bookworm"\n'
    )
    lock_config(cfg)
    prepared = prepare(load_config(cfg), Selection(), build_dir="build")
    write_build_dir(tmp_path / "build", prepared.files)
    ref = prepared.plan.runtime[0].ref
    argv = [
        "docker", "buildx", "bake", "-f", "build/docker-bake.hcl", "--builder", DAEMON,
        "--progress", "plain", "--push",
    ]  # fmt: skip
    env = BUILDX[buildx]
    if buildx == "buildx-0.29":
        refused = sh(*argv, "runtime-debian-bookworm", cwd=tmp_path, env=env, check=False)
        assert refused.returncode != 0
        assert "--allow=fs.read=/etc/ssl/certs/ca-certificates.crt" in refused.stderr, (
            refused.stderr[-2000:]
        )
        argv.append("--allow=fs.read=/etc/ssl/certs/ca-certificates.crt")
    sh(
        *argv, "runtime-debian-bookworm",
        cwd=tmp_path, env=env, log=LOGS / f"bake-by-hand-{buildx}.log",
    )  # fmt: skip
    assert set(registry.platform_manifests(ref)) == {"linux/amd64"}


def test_current_buildx_lints_and_lists_the_bake_file(engine: None, tmp_path: Path) -> None:
    """What buildx 0.29 adds, on the generated file as it is: `--call=check` lints the
    deps Dockerfile with no warning (runtime targets cannot be checked: buildx refuses a
    `target:` context there, docs/engine.md), `--list=targets` lists the matrix."""
    plan_and_print(REPO / "builder.toml", tmp_path)
    bake = ["docker", "buildx", "bake", "-f", "build/docker-bake.hcl"]
    check = sh(
        *bake, "--builder", DAEMON, "--call=check",
        "--allow=fs.read=/etc/ssl/certs/ca-certificates.crt", "deps",
        cwd=tmp_path,
    )  # fmt: skip
    assert "Check complete, no warnings found." in check.stdout + check.stderr
    listed = sh(*bake, "--list=targets", cwd=tmp_path).stdout
    names = {line.split()[0] for line in listed.splitlines()[1:] if line.strip()}
    assert {"deps", "runtime", "runtime-debian-bookworm", "runtime-noshell"} <= names, listed
