"""The HTTP API over a loaded `RouteService` (FastAPI). See docs/serve.md for every endpoint.

    app = create_app(open_service(model_dir), ServeConfig())
    uvicorn.run(app, host="127.0.0.1", port=8000)

The router is loaded once, before the app exists; questions of concurrent /route and /query
requests are routed together by one `RouteBatcher` (one model call at a time, off the event
loop). Entity matching and the read-only queries run on the default thread pool.

Every failure is a JSON `{"detail": "one line"}`: 400 a malformed body or a user mistake the
library reports (`PathrlError`), 401 a missing or wrong token, 404 an unknown path id, 413 a
body over `max_body_bytes`, 422 a field that breaks its contract, 504 a request over
`request_timeout_s`, 500 anything unexpected (generic text; the traceback goes to the server
log only).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pathrl.errors import PathrlError
from pathrl.router.protocol import RankedRoute, Routing
from pathrl.serve.batching import RouteBatcher
from pathrl.serve.config import ServeConfig
from pathrl.serve.models import (
    EntityOut,
    HealthResponse,
    PathOut,
    PathsResponse,
    Problem,
    QueryRequest,
    QueryResponse,
    RoutedQuestion,
    RouteOut,
    RouteRequest,
    RouteResponse,
    SchemaResponse,
)
from pathrl.service import RouteService

PLAYGROUND_DIR = Path(__file__).parent / "static"
"""The playground page (index.html and its assets), served at / when present."""

_T = TypeVar("_T")


class BodySizeLimit:
    """ASGI middleware: a request body over `max_bytes` is answered 413 in JSON, whether it
    declares its length (refused before it is read) or streams without one (refused once the
    bytes read pass the limit). FastAPI's own `max_body_size` is not used: it sits outside
    the user middleware (no CORS headers on its refusal) and answers in plain text."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            response = JSONResponse({"detail": body_too_large(self.max_bytes)}, 413)
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised in the endpoint's body read; FastAPI passes HTTPExceptions on
                    # to the exception handlers, which answer it.
                    raise HTTPException(413, body_too_large(self.max_bytes))
            return message

        await self.app(scope, limited, send)


def body_too_large(max_bytes: int) -> str:
    return f"request body over {max_bytes} bytes"


def _validation_detail(exc: RequestValidationError) -> tuple[int, str]:
    """A one-line message (and 400 for a body that is not JSON at all, 422 otherwise); the
    offending input is not echoed back."""
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "malformed JSON body"
    whole_body = [e for e in errors if tuple(e.get("loc", ())) == ("body",)]
    if any(e.get("type") == "missing" for e in whole_body):
        return 400, "a JSON object body is required (Content-Type: application/json)"
    if any(e.get("type") in ("model_attributes_type", "model_type", "dict_type")
           for e in whole_body):
        return 400, "the body must be a JSON object (Content-Type: application/json)"
    parts = []
    for error in errors[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return 422, "; ".join(parts) or "invalid request"


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text} for code, text in (
        (400, "Malformed JSON or a mistake the router reports"),
        (401, "Missing or wrong bearer token"),
        (413, "Request body too large"),
        (422, "A field breaks its contract"),
        (504, "The request took longer than the server's timeout"))}


def create_app(service: RouteService, config: ServeConfig | None = None, *,
               playground: Path | None = PLAYGROUND_DIR) -> FastAPI:
    """The FastAPI app serving `service` under `config` (see the module doc). `playground` is
    the folder served at / when it holds an index.html (otherwise / redirects to /docs)."""
    config = config or ServeConfig()
    batcher = RouteBatcher(service.route, window_s=config.batch_window_ms / 1e3,
                           max_questions=config.max_batch_questions)
    language = "mql" if service.database.backend == "mongo" else "sql"

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()

    app = FastAPI(title="pathrl", lifespan=lifespan,
                  description=f"Route questions to legal join paths of schema "
                              f"'{service.schema.name}' and run read-only queries.",
                  responses={500: {"model": Problem, "description": "Unexpected server error"}})
    app.state.batcher = batcher
    app.state.service = service
    app.add_middleware(BodySizeLimit, max_bytes=config.max_body_bytes)
    if config.cors_origins:  # added last: outermost, so refusals carry CORS headers too
        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins),
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        status, detail = _validation_detail(exc)
        return JSONResponse({"detail": detail}, status_code=status)

    @app.exception_handler(PathrlError)
    async def _user_mistake(_request: Request, exc: PathrlError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, _exc: Exception) -> JSONResponse:
        # Starlette re-raises the exception after this response, so the server (uvicorn)
        # logs its traceback; the client only learns that something went wrong.
        return JSONResponse({"detail": "internal server error"}, status_code=500)

    bearer = HTTPBearer(auto_error=False, description="The token given to `pathrl serve`.")

    async def require_token(
            credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if config.token is None:
            return
        if credentials is None or not secrets.compare_digest(
                credentials.credentials.encode(), config.token.encode()):
            raise HTTPException(401, "missing or wrong bearer token",
                                headers={"WWW-Authenticate": "Bearer"})

    guarded = [Depends(require_token)] if config.token is not None else []
    errors = {code: spec for code, spec in _ERRORS.items()
              if code != 401 or config.token is not None}

    async def within_deadline(work: Awaitable[_T]) -> _T:
        try:
            return await asyncio.wait_for(work, timeout=config.request_timeout_s)
        except asyncio.TimeoutError:
            raise HTTPException(504, f"the request took longer than "
                                     f"{config.request_timeout_s:g} s") from None

    def check_limits(questions: list[str]) -> None:
        if len(questions) > config.max_questions:
            raise HTTPException(422, f"at most {config.max_questions} questions per request, "
                                     f"got {len(questions)}")
        long = [i for i, q in enumerate(questions) if len(q) > config.max_question_chars]
        if long:
            raise HTTPException(422, f"question(s) at position(s) {long[:5]} are longer than "
                                     f"{config.max_question_chars} characters")

    def with_entities(routings: list[Routing]) -> list[RoutedQuestion]:
        out = []
        for routing in routings:
            match = (service.qa.find_entity(routing.question, routing.best.anchor)
                     if routing.routes else None)
            out.append(RoutedQuestion(question=routing.question,
                                      routes=[RouteOut.of(r) for r in routing.routes],
                                      entity=EntityOut.of(match) if match else None))
        return out

    @app.post("/route", response_model=RouteResponse, dependencies=guarded, responses=errors,
              summary="Rank the legal routes of one or more questions")
    async def route(request: RouteRequest) -> RouteResponse:
        """The `top_k` most probable legal paths per question, with the entity the question
        names in the top route's anchor table. No query runs."""
        questions = request.texts
        check_limits(questions)

        async def work() -> RouteResponse:
            routings = await batcher.route(questions, request.top_k or service.top_k)
            return RouteResponse(results=await asyncio.to_thread(with_entities, routings))

        return await within_deadline(work())

    @app.post("/query", response_model=QueryResponse, dependencies=guarded,
              responses={**errors, 404: {"model": Problem, "description": "Unknown path id"}},
              summary="Answer a question (route, entity, read-only query) or run a path")
    async def query(request: QueryRequest) -> QueryResponse:
        """With `question`: route it, find its entity, run the read-only query. With `path`:
        run that legal path, filtered on `entity` when given. Rows are cut to `limit`."""
        limit = request.limit or config.row_limit
        if limit > config.row_limit:
            raise HTTPException(422, f"limit must be at most {config.row_limit} (the server's "
                                     f"row limit), got {limit}")
        if request.question is not None:
            check_limits([request.question])

            async def work() -> QueryResponse:
                routing = (await batcher.route([request.question], service.top_k))[0]
                answer = await asyncio.to_thread(service.qa.answer, routing)
                return QueryResponse.of(answer, language, limit)
        else:
            try:
                path = service.path(request.path)
            except PathrlError as exc:
                raise HTTPException(404, str(exc)) from None

            async def work() -> QueryResponse:
                answer = await asyncio.to_thread(service.qa.answer_route,
                                                 RankedRoute(path, 1.0), request.entity)
                return QueryResponse.of(answer, language, limit)

        return await within_deadline(work())

    paths_out = PathsResponse(paths=[PathOut.of(p) for p in service.paths])
    schema_out = SchemaResponse.of(service.schema)

    @app.get("/paths", response_model=PathsResponse, dependencies=guarded,
             responses={c: s for c, s in errors.items() if c == 401},
             summary="Every legal path of the schema")
    async def paths() -> PathsResponse:
        return paths_out

    @app.get("/schema", response_model=SchemaResponse, dependencies=guarded,
             responses={c: s for c, s in errors.items() if c == 401},
             summary="Tables, fields and relations")
    async def schema() -> SchemaResponse:
        return schema_out

    @app.get("/health", response_model=HealthResponse, summary="Is the router loaded")
    async def health() -> HealthResponse:
        info = service.describe()
        return HealthResponse(status="ok", schema_name=info["schema"],
                              backend=service.database.backend, tables=info["tables"],
                              paths=info["paths"], model=info["model"],
                              router_calls=batcher.stats.calls,
                              questions_routed=batcher.stats.questions,
                              largest_batch=batcher.stats.largest)

    if playground is not None and (playground / "index.html").is_file():
        # Mounted last: the API routes above match first; everything else is a page asset.
        app.mount("/", StaticFiles(directory=playground, html=True), name="playground")
    else:
        @app.get("/", include_in_schema=False)
        async def root() -> RedirectResponse:
            return RedirectResponse("/docs")

    return app

