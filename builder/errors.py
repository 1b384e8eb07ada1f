"""One error hierarchy; each class owns its exit code (documented in docs/cli.md)."""

from __future__ import annotations


class BuilderError(Exception):
    """Base class: a one-line, actionable message and an exit code."""

    exit_code = 1


class ConfigError(BuilderError):
    """The config file or the command line is wrong. Fix the input and rerun."""

    exit_code = 2


class EngineError(BuilderError):
    """docker, buildx, the daemon or the registry is missing or unusable."""

    exit_code = 3


class BuildError(BuilderError):
    """A build ran and at least one target failed."""

    exit_code = 4

    def __init__(self, message: str, *, results: object = None) -> None:
        super().__init__(message)
        self.results = results


class RegistryLoginError(BuildError):
    """A bake ran and the registry refused its login or certificate: log in (or trust
    the registry's CA) and rerun. An engine problem, not a build failure."""

    exit_code = 3


class VerifyError(BuilderError):
    """A runtime image failed one or more verification checks."""

    exit_code = 5


class OutputError(BuilderError):
    """Generated files could not be written."""

    exit_code = 6


class StaleLockError(BuilderError):
    """``lock --check``: a base's registry digest moved, or the lock lacks a base."""

    exit_code = 7


INTERRUPTED_EXIT_CODE = 130
