"""HTTP API (placeholder until the server issue)."""

from __future__ import annotations

from fastapi import FastAPI


def create_app(workdir: str) -> FastAPI:
    app = FastAPI()

    @app.get("/alive")
    def alive() -> dict[str, str]:
        return {"status": "ok"}

    return app
