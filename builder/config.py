"""Read the TOML config into :class:`builder.model.Config`, rejecting bad input early.

Every error is a :class:`ConfigError` whose message names the file and the key.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from builder.capabilities import CAPABILITIES, DEFAULT_CAPABILITIES
from builder.errors import ConfigError
from builder.model import (
    DEFAULT_APP,
    DEFAULT_DEPS_BASE,
    DEFAULT_PLATFORMS,
    DEFAULT_POETRY_GROUPS,
    DEFAULT_REWRITE_TIMESTAMP,
    DEFAULT_TOOLS,
    KNOWN_PLATFORMS,
    TOOL_PACKAGES,
    Base,
    BuildSettings,
    Config,
    DepsSettings,
    RegistrySettings,
    normalize_platforms,
)
from builder.poetry import allows, lock_mismatch, module_candidates, read_toml, release_python
from builder.refs import is_valid_repository, parse_image_ref
from builder.servers import DEFAULT_KIND, KINDS
from builder.tags import target_name_for

DEFAULT_CONFIG = "builder.toml"
CONFIG_ENV = "OH_BUILDER_CONFIG"

_SCHEMA: dict[str, tuple[str, ...]] = {
    "": ("build", "registry", "deps", "labels", "bases"),
    "build": ("platforms", "args", "builder", "rewrite_timestamp"),
    "registry": ("runtime", "deps", "cache"),
    "deps": (
        "base",
        "app",
        "capabilities",
        "browser",
        "tools",
        "server",
        "entrypoint",
        "poetry_groups",
    ),
    "bases": ("image", "name", "platforms"),
}
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ARG_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
BUILDER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def resolve_config_path(cli_value: Path | None) -> Path:
    """CLI option, then $OH_BUILDER_CONFIG, then ./builder.toml."""
    if cli_value is not None:
        return cli_value
    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else Path(DEFAULT_CONFIG)


def load_config(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found; pass --config PATH or set {CONFIG_ENV}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return parse_config(data, path)


def parse_config(data: Mapping[str, Any], path: Path) -> Config:
    p = _Parser(path)
    p.check_keys(data, "")
    build_t = p.table(data, "build")
    p.check_keys(build_t, "build")
    platforms = p.platforms(build_t.get("platforms"), "build.platforms") or DEFAULT_PLATFORMS
    args = p.string_map(build_t.get("args", {}), "build.args", key_re=_ARG_RE)
    builder = build_t.get("builder")
    if builder is not None and not (isinstance(builder, str) and BUILDER_RE.match(builder)):
        raise p.fail(
            "build.builder", f"{builder!r} is not a buildx builder name (see `docker buildx ls`)"
        )
    rewrite = build_t.get("rewrite_timestamp", DEFAULT_REWRITE_TIMESTAMP)
    if not isinstance(rewrite, bool):
        raise p.fail("build.rewrite_timestamp", "must be true or false")

    reg_t = p.table(data, "registry")
    p.check_keys(reg_t, "registry")
    registry = RegistrySettings(
        runtime=p.repository(reg_t, "runtime"),
        deps=p.repository(reg_t, "deps"),
        cache=p.repository(reg_t, "cache"),
    )

    deps_t = p.table(data, "deps")
    p.check_keys(deps_t, "deps")
    deps = p.deps(deps_t)

    labels = p.string_map(data.get("labels", {}), "labels")
    bases = p.bases(data.get("bases"), platforms)
    return Config(
        path=path,
        build=BuildSettings(
            platforms=platforms, args=args, builder=builder, rewrite_timestamp=rewrite
        ),
        registry=registry,
        deps=deps,
        labels=labels,
        bases=bases,
    )


class _Parser:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, message: str) -> ConfigError:
        where = f"{self.path}: {key}: " if key else f"{self.path}: "
        return ConfigError(where + message)

    def check_keys(self, table: Mapping[str, Any], section: str, *, key: str | None = None) -> None:
        allowed = _SCHEMA[section]
        for k in table:
            if k not in allowed:
                where = f"{key or section}.{k}" if (key or section) else k
                hint = difflib.get_close_matches(k, allowed, n=1)
                suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
                raise self.fail(where, f"unknown key{suggestion} (allowed: {', '.join(allowed)})")

    def table(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table ([" + key + "])")
        return value

    def string(self, table: Mapping[str, Any], key: str, where: str) -> str:
        value = table.get(key)
        if not isinstance(value, str) or not value:
            raise self.fail(where, "required, a non-empty string")
        return value

    def repository(self, table: Mapping[str, Any], key: str) -> str:
        value = self.string(table, key, f"registry.{key}")
        if not is_valid_repository(value):
            raise self.fail(
                f"registry.{key}",
                f"{value!r} is not a repository reference without tag "
                "(like '127.0.0.1:5000/openhands/runtime')",
            )
        return value

    def image(self, value: object, where: str) -> str:
        if not isinstance(value, str):
            raise self.fail(where, "required, an image reference string")
        try:
            parse_image_ref(value)
        except ValueError as exc:
            raise self.fail(where, f"{value!r} is not a valid image reference: {exc}") from None
        return value

    def platforms(self, value: object, where: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self.fail(where, "must be a non-empty list of strings like 'linux/amd64'")
        for v in value:
            if v not in KNOWN_PLATFORMS:
                hint = difflib.get_close_matches(v, KNOWN_PLATFORMS, n=1)
                suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
                raise self.fail(
                    where,
                    f"unknown platform {v!r}{suggestion} (known: {', '.join(KNOWN_PLATFORMS)})",
                )
        return normalize_platforms(value)

    def string_map(
        self, value: object, where: str, *, key_re: re.Pattern[str] | None = None
    ) -> dict[str, str]:
        if not isinstance(value, dict):
            raise self.fail(where, "must be a table of strings")
        out: dict[str, str] = {}
        for k, v in value.items():
            if not isinstance(v, str):
                raise self.fail(f"{where}.{k}", "must be a string")
            if key_re is not None and not key_re.match(k):
                raise self.fail(f"{where}.{k}", "not a valid name (letters, digits, '_')")
            if "\x00" in k or "\x00" in v or not k:
                raise self.fail(f"{where}.{k}", "must be non-empty and contain no NUL character")
            for text in (k, v):
                if not unicodedata.is_normalized("NFC", text):
                    raise self.fail(
                        f"{where}.{k}",
                        f"{text!r} is not in Unicode NFC form; HCL (what buildx reads) would "
                        f"turn it into {unicodedata.normalize('NFC', text)!r}: write that",
                    )
            out[k] = v
        return out

    def string_list(self, value: object, where: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(where, "must be a list of non-empty strings")
        return tuple(value)

    def known(self, where: str, what: str, value: str, known: Mapping[str, object]) -> None:
        """``value`` is a key of ``known``, else one line with a did-you-mean."""
        if value not in known:
            hint = difflib.get_close_matches(value, known, n=1)
            suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
            raise self.fail(
                where, f"unknown {what} {value!r}{suggestion} (known: {', '.join(known)})"
            )

    def capabilities(self, table: Mapping[str, Any]) -> tuple[str, ...]:
        """deps.capabilities, sorted; deps.browser (true/false) is the older spelling of
        adding or leaving out "browser"."""
        if "capabilities" in table and "browser" in table:
            raise self.fail(
                "deps.browser", "give deps.capabilities or deps.browser, not both (capabilities)"
            )
        if "browser" in table:
            browser = table["browser"]
            if not isinstance(browser, bool):
                raise self.fail("deps.browser", "must be true or false")
            return ("browser",) if browser else ()
        names = self.string_list(
            table.get("capabilities", list(DEFAULT_CAPABILITIES)), "deps.capabilities"
        )
        for name in names:
            self.known("deps.capabilities", "capability", name, CAPABILITIES)
        return tuple(sorted(set(names)))

    def deps(self, table: Mapping[str, Any]) -> DepsSettings:
        base = self.image(table.get("base", DEFAULT_DEPS_BASE), "deps.base")
        app_value = table.get("app", DEFAULT_APP)
        if not isinstance(app_value, str) or not app_value:
            raise self.fail("deps.app", "must be a path to a Poetry project")
        app = (self.path.parent / app_value).resolve()
        if not app.is_dir():
            raise self.fail(
                "deps.app",
                f"directory {app} does not exist; create it or fix the path"
                + (
                    " (a fetched profile: run `make profiles`)"
                    if app.parent.name == "profiles"
                    else ""
                ),
            )
        for required in ("pyproject.toml", "poetry.lock"):
            if not (app / required).is_file():
                raise self.fail(
                    "deps.app",
                    f"{app / required} is missing; the app must be a Poetry project "
                    "with a committed poetry.lock (run 'poetry lock')",
                )
        project = self.poetry_project(app, base)
        tools = self.string_list(table.get("tools", list(DEFAULT_TOOLS)), "deps.tools")
        for t in tools:
            self.known("deps.tools", "tool", t, TOOL_PACKAGES)
        server = table.get("server", DEFAULT_KIND)
        if not isinstance(server, str):
            raise self.fail("deps.server", f"must be a string, one of {', '.join(KINDS)}")
        self.known("deps.server", "server kind", server, KINDS)
        kind = KINDS[server]
        capabilities = self.capabilities(table)
        for needed in sorted(kind.requires - set(capabilities)):
            raise self.fail(
                "deps.capabilities",
                f"server {server!r} requires the {needed!r} capability, which the profile "
                f"leaves out; add {needed!r} to deps.capabilities",
            )
        entrypoint = table.get("entrypoint", kind.entrypoint)
        if not isinstance(entrypoint, str) or not re.fullmatch(r"[A-Za-z_][\w.]*", entrypoint):
            raise self.fail("deps.entrypoint", "must be a Python module name like 'action_server'")
        top = entrypoint.split(".")[0]
        in_source = (app / top).is_dir() or (app / f"{top}.py").is_file()
        if not in_source and top.lower() not in module_candidates(project):
            raise self.fail(
                "deps.entrypoint",
                f"module {entrypoint!r}: {top!r} is neither in {app} nor provided by a package "
                f"in {app / 'poetry.lock'}; fix deps.entrypoint or add the package",
            )
        groups = self.string_list(
            table.get("poetry_groups", list(DEFAULT_POETRY_GROUPS)), "deps.poetry_groups"
        )
        return DepsSettings(
            base=base,
            app=app,
            capabilities=capabilities,
            tools=tools,
            server=server,
            entrypoint=entrypoint,
            poetry_groups=groups,
        )

    def poetry_project(self, app: Path, base: str) -> dict[str, Any]:
        """Check what can be known before a build: the lock belongs to the pyproject and
        allows the bundle's Python. Returns the parsed lock."""
        files = {}
        for name in ("pyproject.toml", "poetry.lock"):
            try:
                files[name] = read_toml(app / name)
            except ValueError as exc:
                raise self.fail("deps.app", f"{app / name}: not valid TOML: {exc}") from None
        pyproject, lock = files["pyproject.toml"], files["poetry.lock"]
        why = lock_mismatch(pyproject, lock)
        if why:
            raise self.fail(
                "deps.app",
                f"{app / 'poetry.lock'} {why}; run `poetry lock` in {app} and commit it",
            )
        python = release_python(base)
        spec = pyproject.get("project", {}).get("requires-python") or (
            pyproject.get("tool", {}).get("poetry", {}).get("dependencies", {}).get("python")
        )
        if python and isinstance(spec, str) and not allows(spec, python):
            raise self.fail(
                "deps.base",
                f"{base} gives the bundle Python {python[0]}.{python[1]}, which "
                f"{app / 'pyproject.toml'} does not allow (requires-python {spec!r}); "
                "pick a deps.base whose python3 it allows (debian:trixie has 3.13)",
            )
        return lock

    def bases(self, value: object, default_platforms: tuple[str, ...]) -> tuple[Base, ...]:
        if value is None or (isinstance(value, list) and not value):
            raise self.fail("bases", "no bases; add at least one [[bases]] table with an image")
        if not isinstance(value, list) or not all(isinstance(b, dict) for b in value):
            raise self.fail("bases", "must be an array of tables ([[bases]])")
        out: list[Base] = []
        seen_images: dict[str, int] = {}
        seen_names: dict[str, int] = {}
        for i, entry in enumerate(value):
            where = f"bases[{i}]"
            self.check_keys(entry, "bases", key=where)
            image = self.image(entry.get("image"), f"{where}.image")
            name = entry.get("name")
            if name is None:
                name = target_name_for(image)
            elif not isinstance(name, str) or not _NAME_RE.match(name):
                raise self.fail(f"{where}.name", f"{name!r} must match [A-Za-z0-9_-]{{1,64}}")
            platforms = self.platforms(entry.get("platforms"), f"{where}.platforms") or (
                default_platforms
            )
            if image in seen_images:
                raise self.fail(
                    f"{where}.image", f"{image!r} is already listed as bases[{seen_images[image]}]"
                )
            if name in seen_names:
                raise self.fail(
                    f"{where}.name",
                    f"name {name!r} is already used by bases[{seen_names[name]}]; "
                    "set a distinct name",
                )
            seen_images[image] = i
            seen_names[name] = i
            out.append(Base(image=image, name=name, platforms=platforms))
        return tuple(out)
