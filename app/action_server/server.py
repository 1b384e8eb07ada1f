"""The HTTP API of the action execution server (JSON in, JSON out)."""

from __future__ import annotations

import base64
import contextlib
import hmac
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from action_server.shell import Shell


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ExecuteRequest(_Strict):
    command: str
    timeout: float = Field(default=30.0, gt=0, le=3600)


class ExecuteResponse(BaseModel):
    exit_code: int
    output: str
    timed_out: bool = False
    truncated: bool = False


class WriteRequest(_Strict):
    path: str
    content: str


class ReadRequest(_Strict):
    path: str


class BrowseRequest(_Strict):
    url: str
    timeout: float = Field(default=30.0, gt=0, le=300)


def resolve_inside(workdir: Path, path: str) -> Path:
    """``path`` relative to workdir; anything that resolves outside it is a 400."""
    if not path or "\x00" in path or os.path.isabs(path):
        raise HTTPException(400, "path must be relative to the working directory")
    root = workdir.resolve()
    target = (root / path).resolve()
    if target != root and not target.is_relative_to(root):
        raise HTTPException(400, "path resolves outside the working directory")
    return target


def create_app(workdir: str, *, shell: Shell | None = None) -> FastAPI:
    state: dict[str, Shell] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if "shell" in state:
            state["shell"].close()

    app = FastAPI(title="action execution server", docs_url=None, redoc_url=None, lifespan=lifespan)
    root = Path(workdir)

    def get_shell() -> Shell:
        if "shell" not in state:
            state["shell"] = shell or Shell(workdir)
        return state["shell"]

    @app.middleware("http")
    async def api_key(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        key = os.environ.get("OH_SESSION_API_KEY")
        if key and request.url.path != "/alive":
            given = request.headers.get("X-Session-API-Key", "")
            if not hmac.compare_digest(given.encode(), key.encode()):
                return JSONResponse({"error": "invalid or missing X-Session-API-Key"}, 401)
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        return JSONResponse({"error": "bad request", "detail": errors}, 422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, exc.status_code)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, 500)

    @app.get("/alive")
    def alive() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/execute")
    def execute(req: ExecuteRequest) -> ExecuteResponse:
        r = get_shell().run(req.command, req.timeout)
        output = r.output
        if r.timed_out:
            output += f"\n[command timed out after {req.timeout:g} s and was interrupted]"
        return ExecuteResponse(
            exit_code=r.exit_code, output=output, timed_out=r.timed_out, truncated=r.truncated
        )

    @app.post("/files/write")
    def write(req: WriteRequest) -> dict[str, str]:
        target = resolve_inside(root, req.path)
        if target.is_dir():
            raise HTTPException(400, "path is a directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(req.content, encoding="utf-8")
        return {"path": str(target.relative_to(root.resolve()))}

    @app.post("/files/read")
    def read(req: ReadRequest) -> dict[str, str]:
        target = resolve_inside(root, req.path)
        if not target.is_file():
            raise HTTPException(404, "no such file")
        return {"content": target.read_bytes().decode("utf-8", errors="replace")}

    @app.post("/browse")
    def browse(req: BrowseRequest) -> dict[str, str]:
        from action_server.browser import browse as do_browse

        page = do_browse(req.url, req.timeout)
        return {
            "title": page.title,
            "text": page.text,
            "screenshot_png_base64": base64.b64encode(page.screenshot).decode(),
        }

    return app
