"""The server kinds a runtime image can carry, as data: one description each, read by the
config parser (deps.server, the default entrypoint, what the kind requires), the
templates (how the image starts the server, what the setup step prepares), `verify`
(how it is launched and which client checks it) and docs/config.md. Adding a kind is
one entry here plus its client module (``client``: a module with ``CHECKS``,
``launch(key)`` and ``run_checks(port, key, base_env, **options)``).

Each runtime image names its kind and capabilities in labels (:data:`SERVER_LABEL`,
:data:`CAPABILITIES_LABEL`), so `verify` reads what it is instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

SERVER_LABEL = "dev.oh-builder.server"
CAPABILITIES_LABEL = "dev.oh-builder.capabilities"
WORKSPACE = "/workspace"


class LaunchOptions(TypedDict, total=False):
    """engine.run_container()'s keyword arguments for a launch."""

    env: dict[str, str]
    command: list[str]
    workdir: str


@dataclass(frozen=True, kw_only=True)
class Launch:
    """How OpenHands' own launcher starts the image (what `verify` does too): arguments
    after the image's entrypoint (empty: its CMD), environment (``{key}`` is replaced by
    a fresh session API key) and working directory."""

    command: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    workdir: str | None = None

    def options(self, key: str) -> LaunchOptions:
        """engine.run_container() keyword arguments for session key ``key``."""
        out = LaunchOptions(env={k: v.replace("{key}", key) for k, v in self.env})
        if self.command:
            out["command"] = list(self.command)
        if self.workdir:
            out["workdir"] = self.workdir
        return out


@dataclass(frozen=True, kw_only=True)
class ServerKind:
    name: str  # the deps.server value
    summary: str  # one line, for docs and `oh-builder verify`
    entrypoint: str  # deps.entrypoint's default: the module the server runs as
    app_dir: str  # /openhands/APP_DIR holds the app's source in a runtime image
    # The runtime image's start: user, environment, entrypoint and command (exec form),
    # and the comment the template puts above them.
    user: str
    env: tuple[tuple[str, str], ...]
    image_entrypoint: tuple[str, ...]
    image_command: tuple[str, ...]
    comment: str
    # Directories under /workspace the setup step creates, owned by uid 1000.
    state_dirs: tuple[str, ...]
    health: str  # path answering 200 once the server is up
    ready: str | None  # path answering 200 once it can take work (None: health is it)
    launch: Launch
    client: str  # the module `verify` checks it with
    requires: frozenset[str] = field(default_factory=frozenset)  # capabilities it needs


TINI = "/openhands/usr/bin/tini"

KINDS: dict[str, ServerKind] = {
    kind.name: kind
    for kind in (
        ServerKind(
            name="agent-server",
            summary="OpenHands V1's agent-server (openhands-agent-server)",
            entrypoint="openhands.agent_server",
            app_dir="app",
            user="1000:1000",
            env=(),
            image_entrypoint=(TINI, "--", "/openhands/bin/oh-agent-server"),
            image_command=(),
            comment="OpenHands V1: started as OpenHands starts it (command "
            '["--port", "8000"], entrypoint kept) or with no arguments; tini reaps the '
            "agent's orphans.",
            state_dirs=("project", "conversations", "bash_events"),
            health="/alive",
            ready="/ready",
            # openhands-ai's sandbox service and the SDK's DockerWorkspace.
            launch=Launch(
                command=("--port", "8000"),
                env=(
                    ("OH_SESSION_API_KEYS_0", "{key}"),
                    ("OH_CONVERSATIONS_PATH", f"{WORKSPACE}/conversations"),
                    ("OH_BASH_EVENTS_DIR", f"{WORKSPACE}/bash_events"),
                ),
                workdir=f"{WORKSPACE}/project",
            ),
            client="builder.verify_v1",
        ),
        ServerKind(
            name="openhands-v0",
            summary="OpenHands V0's action execution server (openhands-ai 1.6.0)",
            entrypoint="openhands.runtime.action_execution_server",
            app_dir="code",
            user="0:0",
            env=(
                ("MAMBA_ROOT_PREFIX", "/openhands/micromamba"),
                ("POETRY_VIRTUALENVS_PATH", "/openhands/poetry"),
            ),
            image_entrypoint=(),
            image_command=(
                TINI,
                "--",
                "/openhands/bin/oh-action-execution-server",
                "8000",
                WORKSPACE,
            ),
            comment="OpenHands V0 in the seed's layout: DockerRuntime starts it with its "
            "own command (entrypoint [], `/openhands/micromamba/bin/micromamba run -n "
            "openhands poetry run python -u -m openhands.runtime.action_execution_server "
            "PORT ...`, working dir /openhands/code); run bare, tini reaps the agent's "
            "orphans and the seed's short form starts the server. V0's server starts as "
            "root, as in OpenHands' own images: it runs the agent's shell and jupyter as "
            "`--username` through su (the base's, else the bundle's busybox su).",
            state_dirs=("project",),
            health="/alive",
            ready=None,
            launch=Launch(env=(("SESSION_API_KEY", "{key}"),)),
            client="builder.verify_v0",
            # DockerRuntime starts it with the browser enabled (OpenHands' default).
            requires=frozenset({"browser"}),
        ),
        ServerKind(
            name="action-server",
            summary="A small action server (the sample app in app/)",
            entrypoint="action_server",
            app_dir="app",
            user="1000:1000",
            env=(),
            image_entrypoint=(),
            image_command=("/openhands/bin/oh-action-execution-server", "8000", WORKSPACE),
            comment="oh-action-execution-server runs its module as `MODULE PORT WORKDIR`.",
            state_dirs=("project",),
            health="/alive",
            ready=None,
            launch=Launch(),
            client="builder.verify_sample",
        ),
    )
}
DEFAULT_KIND = "action-server"


def kind(name: str) -> ServerKind:
    """The kind named ``name`` (a KeyError names the known ones)."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown server kind {name!r} (known: {', '.join(KINDS)})") from None
