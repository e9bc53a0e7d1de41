"""Dojangkok AI server (FastAPI, port 8100): `uvicorn main:app`.

POST /analyze retrieves context from ChromaDB and asks vLLM for the analysis with the LoRA adapter of the
request's type. GET /health is liveness: always 200, with the reachability of both upstreams in the body.
Errors are RFC 9457 problem details: 422 for a bad request, 502/504 when an upstream fails or is too slow.
FAULT_LATENCY_SECONDS / FAULT_ERROR_RATIO slow down or fail every route but /health and /metrics (release drills).
GET /metrics is Prometheus' view: http_server_request_duration_seconds (histogram by method, route, status) of every
request but /health and /metrics, injected faults included; the deploy's analysis gate reads p95 and error rate.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import httpx
import prometheus_client
from aiserver.analysis import AnalysisType, build_prompt
from aiserver.generation import VllmGenerator
from aiserver.retrieval import ChromaRetriever
from aiserver.settings import Settings
from aiserver.upstream import UpstreamError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, StringConstraints
from starlette.routing import Match

PROBLEM_JSON = "application/problem+json"
# Around the gate's threshold (0.5 s, seed §9.2) the buckets are finest, so the p95 it reads is close to the truth.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0, 2.5, 5.0, 10.0)
OPERATIONS = {"/health", "/metrics"}  # the platform's routes: never faulted, never measured
MAX_TEXT_CHARS = 8000


class AnalysisRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: AnalysisType
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS)]


class Source(BaseModel):
    id: str
    distance: float | None = None
    metadata: dict[str, Any] | None = None


class AnalysisResponse(BaseModel):
    type: AnalysisType
    adapter: str
    result: str
    finish_reason: str | None = None
    sources: list[Source]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    upstreams: dict[str, Literal["up", "down"]]


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def route_of(app: FastAPI, request: Request) -> str:
    """The route template a request is for (bounded label values), "unmatched" for paths no route serves."""
    for route in app.router.routes:
        if route.matches(request.scope)[0] is Match.FULL:
            return getattr(route, "path", "unmatched")
    return "unmatched"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One pooled client for both upstreams; each call sets its own timeout.
        async with httpx.AsyncClient() as client:
            app.state.retriever = ChromaRetriever(client, settings)
            app.state.generator = VllmGenerator(client, settings)
            yield

    app = FastAPI(title="Dojangkok AI server", version="0.1.0", lifespan=lifespan)

    if settings.fault_latency or settings.fault_error_ratio:

        @app.middleware("http")
        async def injected_fault(request: Request, call_next):
            if request.url.path in OPERATIONS:
                return await call_next(request)
            await asyncio.sleep(settings.fault_latency)
            if random.random() < settings.fault_error_ratio:  # noqa: S311 - a drill, not cryptography
                return problem(500, "Injected fault", "FAULT_ERROR_RATIO is set on this release")
            return await call_next(request)

    # Added after the fault switch, so it wraps it: what users get, injected latency and errors included.
    registry = prometheus_client.CollectorRegistry()
    durations = prometheus_client.Histogram(
        "http_server_request_duration_seconds", "Time to answer a request, by route and status",
        ["method", "route", "status"], buckets=DURATION_BUCKETS, registry=registry)

    @app.middleware("http")
    async def measured(request: Request, call_next):
        if request.url.path in OPERATIONS:
            return await call_next(request)
        started = time.perf_counter()
        response = await call_next(request)
        durations.labels(request.method, route_of(app, request), str(response.status_code)).observe(
            time.perf_counter() - started)
        return response

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(prometheus_client.generate_latest(registry), media_type=prometheus_client.CONTENT_TYPE_LATEST)

    @app.exception_handler(UpstreamError)
    async def upstream_failed(_: Request, exc: UpstreamError) -> JSONResponse:
        title = "Upstream timed out" if exc.status == 504 else "Upstream failed"
        return problem(exc.status, title, exc.detail, upstream=exc.upstream)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"location": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors)
        return problem(422, "Invalid request", detail, errors=errors)

    @app.get("/health")
    async def health(request: Request) -> Health:
        vllm_up, chroma_up = await asyncio.gather(
            request.app.state.generator.reachable(), request.app.state.retriever.reachable()
        )
        return Health(upstreams={"vllm": "up" if vllm_up else "down", "chromadb": "up" if chroma_up else "down"})

    @app.post(
        "/analyze",
        responses={
            422: {"description": "Invalid request (unknown type, empty or too long text)"},
            502: {"description": "vLLM or ChromaDB failed or is unreachable"},
            504: {"description": "vLLM or ChromaDB did not answer in time"},
        },
    )
    async def analyze(body: AnalysisRequest, request: Request) -> AnalysisResponse:
        passages = await request.app.state.retriever.retrieve(body.text)
        prompt = build_prompt(body.type, body.text, passages)
        completion = await request.app.state.generator.complete(body.type.adapter, prompt)
        return AnalysisResponse(
            type=body.type,
            adapter=body.type.adapter,
            result=completion.text,
            finish_reason=completion.finish_reason,
            sources=[Source(id=p.id, distance=p.distance, metadata=p.metadata) for p in passages],
        )

    return app


app = create_app()
