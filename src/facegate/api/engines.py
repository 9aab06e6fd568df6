"""The engines: which each deployment uses and moves to, how far a migration is, who needs
re-enrolment; putting a deployment into migration towards another engine; and re-keying a
deployment's protected templates."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from facegate.api.deps import Service, Who
from facegate.api.paging import KNOWN_QUERY

router = APIRouter(tags=["engines"], dependencies=KNOWN_QUERY)


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


class Rekeyed(BaseModel):
    deployment: str
    epoch: int = Field(description="The epoch of the secret rotation its templates are "
                                   "indexed under from now on.")
    previous_epoch: int


@router.get("/v1/engine", response_model=EngineStatus, response_model_exclude_unset=True)
def engine_status(who: Who, service: Service) -> dict[str, Any]:
    return service.engines.status(who)


@router.post("/v1/deployments/{deployment_id}/engine", response_model=MigrationStarted,
             response_model_by_alias=True)
def migrate(who: Who, service: Service, deployment_id: str, body: MigrateIn) -> dict[str, Any]:
    return service.engines.migrate(who, deployment_id, body.to)


@router.post("/v1/deployments/{deployment_id}/rekey", response_model=Rekeyed)
def rekey(who: Who, service: Service, deployment_id: str) -> dict[str, Any]:
    """Renew the deployment's protected templates: a new secret rotation, its indexes
    rebuilt under it (ISO/IEC 24745); what was taken from an index before is worthless."""
    return service.engines.rekey(who, deployment_id)
