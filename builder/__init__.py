"""oh-builder: BuildKit-native builds of relocatable AI-agent sandbox images.

The Python API (``build_dependencies_image``, ``build_runtime_image``) is loaded on
first use, so ``import builder`` (and ``oh-builder --help``) loads no planning code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from builder.version import __version__

if TYPE_CHECKING:
    from builder.api import build_dependencies_image, build_runtime_image

__all__ = ["__version__", "build_dependencies_image", "build_runtime_image"]


def __getattr__(name: str) -> Any:
    if name in ("build_dependencies_image", "build_runtime_image"):
        from builder import api

        return getattr(api, name)
    raise AttributeError(f"module 'builder' has no attribute {name!r}")
