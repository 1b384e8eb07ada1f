"""The environment of a process of the bundle's Python, and of what it starts.

Installed in the venv as ``_oh_env.py`` and run by ``_oh_env.pth`` before any other code
of a venv Python (the server, ``oh-python``). The ``oh-*`` wrapper that started the
process cleaned the environment for it and recorded what it changed: ``OH_SET_VARS``
lists the variables it set, ``OH_SAVED_<VAR>`` holds a value it removed or replaced.
Python has read what it needs of them at start-up, so the process gets the environment
the container started with back: every program it starts (the agent's shell above all,
through tmux) sees the base image's settings, not the bundle's. Only the bundle's own
programs it starts directly, through ``subprocess`` or ``os.exec*`` (its Python,
Playwright's node, the wrappers, the bundle's bash standing in for /bin/sh) get the
wrapper's environment again, so a base's
``LD_PRELOAD`` or ``PYTHONHOME`` never reaches them. What the process itself reads
while it runs (``OH_KEEP_VARS``: where Playwright keeps its browsers, V0's
``SU_TO_USER``) stays in its environment, and is taken out of what a base program it
starts through ``subprocess`` gets. Python's own TLS default
(``ssl.create_default_context``) keeps the base's trust store, and falls back to the
bundle's CA bundle only where the base has none.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from typing import Any, NoReturn

ROOT = "/openhands/"
BUNDLE_CA = "/openhands/etc/ssl/certs/ca-certificates.crt"
# Where OpenSSL (Debian's build, OPENSSLDIR /usr/lib/ssl) looks by default, then the CA
# bundles other distributions keep.
OPENSSL_DEFAULTS = ("/usr/lib/ssl/cert.pem", "/usr/lib/ssl/certs")
BASE_CA_FILES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/cert.pem",  # Alpine, macOS-style
    "/etc/ssl/ca-bundle.pem",  # openSUSE
)
_ENV_ARG = 9  # Popen(args, bufsize, executable, ..., env): env's index after args
_EXECUTABLE_ARG, _SHELL_ARG = 1, 7


def base_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with the wrappers' changes undone (their bookkeeping included)."""
    out = dict(env)
    for name in env.get("OH_SET_VARS", "").split():
        out.pop(name, None)
    for key, value in env.items():
        if key.startswith("OH_SAVED_"):
            out[key.removeprefix("OH_SAVED_")] = value
            out.pop(key, None)
    out.pop("OH_SET_VARS", None)
    out.pop("OH_KEEP_VARS", None)
    return out


def _which(program: str, path: str) -> str:
    for d in path.split(os.pathsep):
        candidate = os.path.join(d or ".", program)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return program


def is_bundled(program: str, env: Mapping[str, str]) -> bool:
    """Whether ``program`` (as Popen would find it) is one of the bundle's: a native
    program, or a wrapper (whose interpreter, the bundle's bash, must not load a base's
    LD_PRELOAD either)."""
    if "/" not in program:
        program = _which(program, env.get("PATH", os.defpath))
    return os.path.realpath(program).startswith(ROOT)


class _Environments:
    """The wrapper's environment as a change of the container's (set and unset), and
    what of it the process keeps (``OH_KEEP_VARS``)."""

    def __init__(self, bundle: Mapping[str, str], base: Mapping[str, str]) -> None:
        self.set = {k: v for k, v in bundle.items() if base.get(k) != v}
        self.unset = set(base) - set(bundle)
        self.kept = {k: bundle[k] for k in bundle.get("OH_KEEP_VARS", "").split() if k in bundle}
        self.base = base

    def for_process(self) -> dict[str, str]:
        return {**self.base, **self.kept}

    def for_bundle(self, env: Mapping[str, str]) -> dict[str, str]:
        out = {k: v for k, v in env.items() if k not in self.unset}
        out.update(self.set)
        return out

    def for_base(self, env: Mapping[str, str]) -> dict[str, str] | None:
        """``env`` with the kept variables still at the wrapper's value as the base has
        them, or None when it has none of them."""
        reverted = [k for k, v in self.kept.items() if env.get(k) == v]
        if not reverted:
            return None
        out = {k: v for k, v in env.items() if k not in reverted}
        out.update({k: self.base[k] for k in reverted if k in self.base})
        return out


def _patch_popen(envs: _Environments) -> None:
    original = subprocess.Popen.__init__

    def __init__(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        def arg(index: int, name: str, default: Any) -> Any:
            return rest[index] if len(rest) > index else kwargs.get(name, default)

        program = arg(_EXECUTABLE_ARG, "executable", None)
        if program is None:
            if arg(_SHELL_ARG, "shell", False):
                program = "/bin/sh"  # the bundle's bash on a base without a shell
            elif isinstance(args, (str, bytes, os.PathLike)):
                program = args
            else:
                program = next(iter(args), "")
        env = arg(_ENV_ARG, "env", None)
        current = os.environ if env is None else env
        if program and is_bundled(os.fsdecode(program), current):
            new: dict[str, str] | None = envs.for_bundle(current)
        else:
            new = envs.for_base(current)
        if new is not None:
            if len(rest) > _ENV_ARG:
                rest = (*rest[:_ENV_ARG], new, *rest[_ENV_ARG + 1 :])
            else:
                kwargs["env"] = new
        original(self, args, *rest, **kwargs)

    subprocess.Popen.__init__ = __init__  # type: ignore[method-assign]


def _patch_exec(envs: _Environments) -> None:
    """The ``os.exec*`` family as ``subprocess``: a program of the bundle gets the
    wrapper's environment, a base program the base's. (Jupyter runs ``jupyter
    kernelgateway`` by ``os.execvp`` of the venv's ``jupyter-kernelgateway``, whose
    interpreter is the bundle's Python: with the base's ``LD_PRELOAD`` of a musl library
    it could not start.) An ``os.execv`` uses ``os.environ``, as the original does."""
    execve = os.execve

    def environment(path: Any, env: Any) -> Any:
        if isinstance(path, int):  # an open file: nothing to tell from
            return env
        if is_bundled(os.fsdecode(path), env):
            return envs.for_bundle(env)
        return envs.for_base(env) or env

    def execv(path: Any, argv: Any) -> NoReturn:
        execve(path, argv, environment(path, os.environ))

    def execve_(path: Any, argv: Any, env: Any) -> NoReturn:
        execve(path, argv, environment(path, env))

    os.execv = execv
    os.execve = execve_


def _patch_ssl(base: Mapping[str, str]) -> None:
    """Where the base has no trust store OpenSSL finds by default (and sets none in the
    environment), Python's default TLS contexts also load a CA bundle: the base's own
    if it keeps one elsewhere, else the bundle's."""
    if "SSL_CERT_FILE" in base or "SSL_CERT_DIR" in base:
        return
    if any(os.path.exists(p) for p in OPENSSL_DEFAULTS):
        return
    cafile = next((p for p in BASE_CA_FILES if os.path.isfile(p)), BUNDLE_CA)
    import ssl

    original = ssl.SSLContext.load_default_certs

    def load_default_certs(self: ssl.SSLContext, purpose: Any = ssl.Purpose.SERVER_AUTH) -> None:
        original(self, purpose)
        if os.path.isfile(cafile):
            self.load_verify_locations(cafile=cafile)

    ssl.SSLContext.load_default_certs = load_default_certs  # type: ignore[method-assign]


_ENVS: _Environments | None = None  # set by restore() when a wrapper started the process


def for_base(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` as a base program started without ``subprocess`` (tmux's shell, an
    ``os.execve``) must get it: the kept variables (``OH_KEEP_VARS``) back at the base's
    values. ``env`` unchanged when no wrapper started this process."""
    if _ENVS is None:
        return dict(env)
    new = _ENVS.for_base(env)
    return dict(env) if new is None else new


def restore() -> None:
    global _ENVS
    bundle = dict(os.environ)
    if "OH_SET_VARS" not in bundle and not any(k.startswith("OH_SAVED_") for k in bundle):
        return  # not started by a wrapper: nothing to undo
    base = base_environment(bundle)
    envs = _ENVS = _Environments(bundle, base)
    process = envs.for_process()
    for key in set(bundle) - set(process):
        del os.environ[key]
    for key, value in process.items():
        if bundle.get(key) != value:
            os.environ[key] = value
    _patch_popen(envs)
    _patch_exec(envs)
    _patch_ssl(base)


restore()
