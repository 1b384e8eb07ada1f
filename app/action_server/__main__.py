"""``python -m action_server PORT WORKDIR``."""

from __future__ import annotations

import sys


def main() -> None:
    import uvicorn

    from action_server.server import create_app

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    workdir = sys.argv[2] if len(sys.argv) > 2 else "/workspace"
    uvicorn.run(create_app(workdir), host="0.0.0.0", port=port, log_level="warning")


if __name__ == "__main__":
    main()
