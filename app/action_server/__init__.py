"""Action execution server: runs commands, files and a browser for an agent."""

__version__ = "0.1.0"
