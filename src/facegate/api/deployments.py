"""Deployments: a manifest registered through the gate or only checked, the deployments and
their current notice, and the end of face recognition at one (``filing.deregister``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from facegate.api.deps import Service, Who
from facegate.api.manifests import MANIFEST_BODY, UNSUPPORTED, Manifest
from facegate.api.paging import KNOWN_QUERY, PAGED, Paging, paginate_in_order
from facegate.api.schemas import DecisionOut

router = APIRouter(tags=["deployments"], dependencies=KNOWN_QUERY)


class AssessmentState(BaseModel):
    """The deployment's latest impact assessment (``pia.before-use``)."""

    version: int
    stale: bool
    stale_reason: str | None


class DeploymentApplied(BaseModel):
    id: str
    status: str
    created: bool
    pack: str
    notice_version: int
    changed: list[str] = Field(description="Substantive changes (filing.change).")
    assessment: AssessmentState | None
    decision: DecisionOut


class DeploymentOut(BaseModel):
    id: str
    name: str | None
    purpose: str
    mode: str
    rule_pack: str
    status: str
    notice_version: int
    engine: str | None = Field(description="The engine its templates come from.")
    migrating_to: str | None = Field(description="The engine its templates move to.")
    updated_at: str


class DeploymentDetail(DeploymentOut):
    manifest: dict[str, Any]


class Ended(BaseModel):
    templates: int
    subjects: int
    consents_closed: int


class TerminationReceipt(BaseModel):
    operation: str
    deployment: str
    at: str
    deleted: Ended
    rules: list[str]
    sha256: str


class NoticeOut(BaseModel):
    """A notice version as people read it; no personal data. Notices are kept as they were
    made: fields of notices made by later versions are absent from older ones."""

    model_config = ConfigDict(extra="allow")

    version: int
    digest: str
    deployment: str | None = None
    name: str | dict[str, str] | None = None  # a plain string or {zh, en}, as in the manifest
    operator: dict[str, Any] | None = None
    purpose: str | None = None
    necessity: str | dict[str, str] | None = None
    least_impact: str | dict[str, str] | None = None
    method: str | None = None
    retention_days: int | None = None
    capture_area: str | dict[str, str] | None = None
    alternative: dict[str, Any] | None = None
    rights: dict[str, Any] | None = None
    images_kept: bool | None = None


MANIFEST_TYPES = ("The manifest is the body: JSON (``application/json``) or YAML "
                  "(``application/yaml``, ``text/yaml``), e.g. ``curl --data-binary "
                  "@deployment.yaml -H 'content-type: application/yaml'``.")


@router.post("/v1/deployments", status_code=201, response_model=DeploymentApplied,
             openapi_extra=MANIFEST_BODY, responses=UNSUPPORTED,
             description="Validate a manifest against the rules and register it (or refuse: "
                         f"403/422). {MANIFEST_TYPES}")
def apply_deployment(who: Who, service: Service, manifest: Manifest) -> dict[str, Any]:
    return service.deployments.apply(who, manifest)


@router.post("/v1/deployments/check", response_model=DecisionOut,
             openapi_extra=MANIFEST_BODY, responses=UNSUPPORTED,
             description="The gate's decision on a manifest, rule by rule, without "
                         f"registering it. {MANIFEST_TYPES}")
def check_deployment(who: Who, service: Service, manifest: Manifest,
                     pack: str | None = None) -> dict[str, Any]:
    service.deployments.all(who)  # role check: deployment.read
    return service.deployments.check(manifest, pack, who).to_dict()


@router.get("/v1/deployments", response_model=list[DeploymentOut], responses=PAGED)
def list_deployments(who: Who, service: Service, page: Paging,
                     response: Response) -> list[dict[str, Any]]:
    """The deployments by id, paginated."""
    return paginate_in_order(service.deployments.all(who), lambda d: str(d["id"]), page,
                             response, "deployments")


@router.get("/v1/deployments/{deployment_id}", response_model=DeploymentDetail)
def get_deployment(who: Who, service: Service, deployment_id: str) -> dict[str, Any]:
    return service.deployments.get(who, deployment_id)


@router.post("/v1/deployments/{deployment_id}/terminate", response_model=TerminationReceipt)
def terminate_deployment(who: Who, service: Service, deployment_id: str) -> dict[str, Any]:
    """End face recognition here: templates deleted, consents closed (filing.deregister)."""
    return service.deployments.terminate(who, deployment_id)


@router.get("/v1/deployments/{deployment_id}/notice", response_model=NoticeOut,
            response_model_exclude_unset=True)
def get_notice(who: Who, service: Service, deployment_id: str,
               version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None
               ) -> dict[str, Any]:
    service.deployments.get(who, deployment_id)
    return service.deployments.notice(deployment_id, version)
