"""The oh-builder version (in every tag's hash and image label)."""

__version__ = "0.1.0"
