"""The environment the agent's shell gets: the container's, not the wrappers'.

The /openhands/bin/oh-* wrappers record what they change: OH_SET_VARS lists the
variables they set, OH_SAVED_<VAR> holds a base image's value they removed.
"""

from __future__ import annotations

from collections.abc import Mapping


def agent_environment(env: Mapping[str, str]) -> dict[str, str]:
    out = dict(env)
    for name in env.get("OH_SET_VARS", "").split():
        out.pop(name, None)
    for key, value in env.items():
        if key.startswith("OH_SAVED_"):
            out[key.removeprefix("OH_SAVED_")] = value
            out.pop(key, None)
    out.pop("OH_SET_VARS", None)
    for key in ("OH_SESSION_API_KEY",):  # the agent's shell never sees the server's secret
        out.pop(key, None)
    return out
