"""Liveness and readiness for load balancers and orchestrators, without a key and without
personal data: ``/healthz`` answers while the process serves at all (also while it loads its
indexes); ``/readyz`` answers 200 once every 1:N index is loaded and the store answers, 503
before (``facegate.service.readiness``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from facegate import __version__
from facegate.api.deps import Service

router = APIRouter(tags=["operations"])


class Live(BaseModel):
    status: str = Field(description="Always ``live`` while the process answers.")
    version: str


class LoadedIndex(BaseModel):
    deployment: str
    engine: str
    templates: int = Field(description="Templates the index holds.")
    backend: str = Field(description="The index class: ExactIndex, IvfIndex, MilvusIndex.")
    seconds: float = Field(description="Time taken to load it from the store.")
    ivf_serving: bool | None = Field(
        default=None, description="IVF only: the IVF index serves (exact search until then).")


class Refusal(BaseModel):
    deployment: str
    rules: list[str]


class Ready(BaseModel):
    ready: bool
    store: bool = Field(description="The store answered a query just now.")
    phase: str = Field(description="Index loading: waiting, loading, loaded or failed.")
    seconds: float | None = Field(description="How long loading took, once done.")
    loaded: list[LoadedIndex]
    refused: list[Refusal] = Field(description="Deployments whose index the gate refused "
                                               "to load, with the rules.")
    error: str | None


@router.get("/healthz", response_model=Live)
def healthz() -> dict[str, Any]:
    """Live: the process answers (also while it loads its indexes)."""
    return {"status": "live", "version": __version__}


@router.get("/readyz", response_model=Ready,
            responses={503: {"model": Ready, "description": "Not ready yet: the indexes are "
                                                            "loading, or the store is down."}})
def readyz(service: Service) -> JSONResponse:
    """Ready: every 1:N index loaded and the store reachable (200), or not yet (503)."""
    status = service.readiness.status()
    body = Ready.model_validate(status).model_dump(mode="json")
    return JSONResponse(status_code=200 if status["ready"] else 503, content=body)
