"""oh-builder: BuildKit-native builds of relocatable AI-agent sandbox images."""

from __future__ import annotations

__version__ = "0.1.0"

from builder.api import build_dependencies_image, build_runtime_image

__all__ = ["__version__", "build_dependencies_image", "build_runtime_image"]
