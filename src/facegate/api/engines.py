"""The engines: which each deployment uses and moves to, how far a migration is, who needs
re-enrolment; and putting a deployment into migration towards another engine."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from facegate.api.deps import Service, Who

router = APIRouter(tags=["engines"])


class Progress(BaseModel):
    subjects_moved: int
    subjects_left: int
    share: float


class DeploymentEngine(BaseModel):
    deployment: str
    engine: str
    migrating_to: str | None
    templates: dict[str, int] = Field(description="Templates held, by engine.")
    progress: Progress | None = None


class Stale(BaseModel):
    subject: str
    deployment: str
    engine: str
    templates: int


class EngineStatus(BaseModel):
    engine: str = Field(description="The installation's engine: new deployments use it.")
    threshold: float
    templates_current: int
    deployments: list[DeploymentEngine]
    needs_reenrolment: list[Stale]


class MigrateIn(BaseModel):
    to: str | None = Field(default=None, description="An engine key (name/model_version); "
                                                     "default: the installation's engine.")


class MigrationStarted(BaseModel):
    deployment: str
    engine: str | None
    from_: str = Field(alias="from", serialization_alias="from")
    migrating_to: str | None
    remaining: int = Field(description="Templates of the old engine left.")
    switched: bool = Field(description="True when none was left: the deployment switched.")


@router.get("/v1/engine", response_model=EngineStatus, response_model_exclude_unset=True)
def engine_status(who: Who, service: Service) -> dict[str, Any]:
    return service.engines.status(who)


@router.post("/v1/deployments/{deployment_id}/engine", response_model=MigrationStarted,
             response_model_by_alias=True)
def migrate(who: Who, service: Service, deployment_id: str, body: MigrateIn) -> dict[str, Any]:
    return service.engines.migrate(who, deployment_id, body.to)
