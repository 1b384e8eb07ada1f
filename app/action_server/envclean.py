"""The environment the agent's shell gets: the container's, not the wrappers'.

In an image, the venv's start-up hook (_oh_env, from oh-builder's oh_env_hook.py) has
already undone what the /openhands/bin/oh-* wrappers changed in this process's
environment, except what the server itself reads while it runs (``OH_KEEP_VARS``, such
as where Playwright keeps its browsers): the hook's ``for_base`` sets those back to the
base's values, since tmux starts the shell without ``subprocess``. What is left to drop
is the server's own secret. Outside an image (the host tests) there is no hook.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

SECRETS = ("OH_SESSION_API_KEY",)  # the agent's shell never sees the server's secret


def _identity(env: Mapping[str, str]) -> dict[str, str]:
    return dict(env)


try:
    from _oh_env import for_base as _for_base  # the venv's start-up hook, in an image
except ImportError:
    _for_base = _identity

for_base: Callable[[Mapping[str, str]], dict[str, str]] = _for_base


def agent_environment(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in for_base(env).items() if k not in SECRETS}
