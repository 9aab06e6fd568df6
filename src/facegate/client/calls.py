"""Every operation of the service as a ``Call``, built once for both clients. Each is recorded
with its method, path and client method by ``endpoint`` (``wire.ENDPOINTS``)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeAlias

from facegate.client import models as m
from facegate.client import models_ops as o
from facegate.client.wire import (
    Call,
    Document,
    Image,
    Page,
    Route,
    csv,
    endpoint,
    image_part,
    read_bytes,
    read_document,
    read_object,
    read_page,
    read_ready,
)

# A manifest: a mapping (sent as JSON), YAML text as bytes, or the path of a YAML or JSON file.
Manifest: TypeAlias = Mapping[str, Any] | bytes | os.PathLike[str]
Attributes: TypeAlias = str | Sequence[str] | None
Lang: TypeAlias = Literal["zh", "en"]
Format: TypeAlias = Literal["pdf", "html"]
Role: TypeAlias = Literal["operator", "officer", "auditor", "admin", "device"]
_Id: TypeAlias = str


def _manifest(manifest: Manifest, params: Mapping[str, str | None]) -> dict[str, Any]:
    if isinstance(manifest, Mapping):
        return {"json": dict(manifest), "params": params}
    if isinstance(manifest, bytes):
        return {"content": (manifest, "application/yaml"), "params": params}
    path = Path(manifest)
    kind = "application/json" if path.suffix.lower() == ".json" else "application/yaml"
    return {"content": (path.read_bytes(), kind), "params": params}


def _attrs(values: Attributes) -> str | None:
    return csv(values if isinstance(values, str) or values is None else list(values))


# ---- liveness ---------------------------------------------------------------------------------

@endpoint("GET", "/healthz", "health")
def health(route: Route) -> Call[o.Live]:
    return route.call(read_object)


@endpoint("GET", "/readyz", "ready")
def ready(route: Route) -> Call[o.Ready]:
    return route.call(read_ready, answers=frozenset({503}))


# ---- deployments ------------------------------------------------------------------------------

@endpoint("POST", "/v1/deployments", "deployments.apply")
def apply_deployment(route: Route, manifest: Manifest) -> Call[m.DeploymentApplied]:
    return route.call(read_object, **_manifest(manifest, {}))


@endpoint("POST", "/v1/deployments/check", "deployments.check")
def check_deployment(route: Route, manifest: Manifest, pack: str | None) -> Call[m.Decision]:
    return route.call(read_object, **_manifest(manifest, {"pack": pack}))


@endpoint("GET", "/v1/deployments", "deployments.list")
def list_deployments(route: Route, limit: int | None, cursor: str | None
                     ) -> Call[Page[m.Deployment]]:
    return route.call(read_page, params={"limit": limit, "cursor": cursor})


@endpoint("GET", "/v1/deployments/{deployment_id}", "deployments.get")
def get_deployment(route: Route, deployment: _Id) -> Call[m.DeploymentDetail]:
    return route.call(read_object, at={"deployment_id": deployment})


@endpoint("POST", "/v1/deployments/{deployment_id}/terminate", "deployments.terminate")
def terminate(route: Route, deployment: _Id) -> Call[m.TerminationReceipt]:
    return route.call(read_object, at={"deployment_id": deployment})


@endpoint("GET", "/v1/deployments/{deployment_id}/notice", "deployments.notice")
def notice(route: Route, deployment: _Id, version: int | None) -> Call[m.Notice]:
    return route.call(read_object, at={"deployment_id": deployment},
                      params={"version": version})


@endpoint("GET", "/v1/deployments/{deployment_id}/documents/{kind}", "deployments.document")
def document(route: Route, deployment: _Id, kind: Literal["notice", "sign", "pia"],
             lang: Lang, size: Literal["A4", "A3"], fmt: Format, draft: bool
             ) -> Call[Document]:
    return route.call(read_document, at={"deployment_id": deployment, "kind": kind},
                      params={"lang": lang, "size": size, "format": fmt,
                              "draft": True if draft else None})


@endpoint("POST", "/v1/deployments/{deployment_id}/rekey", "deployments.rekey")
def rekey(route: Route, deployment: _Id) -> Call[o.Rekeyed]:
    return route.call(read_object, at={"deployment_id": deployment})


@endpoint("POST", "/v1/deployments/{deployment_id}/engine", "deployments.migrate_engine")
def migrate_engine(route: Route, deployment: _Id, to: str | None) -> Call[o.MigrationStarted]:
    return route.call(read_object, at={"deployment_id": deployment}, json={"to": to})


@endpoint("GET", "/v1/engine", "engine.status")
def engine_status(route: Route) -> Call[o.EngineStatus]:
    return route.call(read_object)


# ---- assessments ------------------------------------------------------------------------------

@endpoint("POST", "/v1/deployments/{deployment_id}/assessments", "assessments.record")
def record_assessment(route: Route, deployment: _Id, assessment: Mapping[str, Any]
                      ) -> Call[o.Assessment]:
    return route.call(read_object, at={"deployment_id": deployment}, json=_plain(assessment))


@endpoint("GET", "/v1/deployments/{deployment_id}/assessments", "assessments.list")
def list_assessments(route: Route, deployment: _Id, limit: int | None, cursor: str | None
                     ) -> Call[Page[o.Assessment]]:
    return route.call(read_page, at={"deployment_id": deployment},
                      params={"limit": limit, "cursor": cursor})


@endpoint("DELETE", "/v1/deployments/{deployment_id}/assessments/{version}",
          "assessments.delete")
def delete_assessment(route: Route, deployment: _Id, version: int
                      ) -> Call[o.AssessmentDeleted]:
    return route.call(read_object, at={"deployment_id": deployment, "version": version})


@endpoint("POST", "/v1/deployments/{deployment_id}/incidents", "assessments.incident")
def incident(route: Route, deployment: _Id, what: str) -> Call[o.Incident]:
    return route.call(read_object, at={"deployment_id": deployment}, json={"what": what})


# ---- subjects and consents --------------------------------------------------------------------

@endpoint("POST", "/v1/subjects", "subjects.add")
def add_subject(route: Route, ref: str, birth_date: dt.date | str | None
                ) -> Call[m.SubjectCreated]:
    born = birth_date.isoformat() if isinstance(birth_date, dt.date) else birth_date
    return route.call(read_object, json={"ref": ref, "birth_date": born})


@endpoint("GET", "/v1/subjects", "subjects.list")
def list_subjects(route: Route, reference: str | None, limit: int | None, cursor: str | None
                  ) -> Call[Page[m.SubjectListed]]:
    return route.call(read_page, params={"reference": reference, "limit": limit,
                                         "cursor": cursor})


@endpoint("GET", "/v1/subjects/{subject_id}", "subjects.get")
def get_subject(route: Route, subject: _Id) -> Call[m.Subject]:
    return route.call(read_object, at={"subject_id": subject})


@endpoint("DELETE", "/v1/subjects/{subject_id}", "subjects.delete")
def delete_subject(route: Route, subject: _Id) -> Call[m.DeletionReceipt]:
    return route.call(read_object, at={"subject_id": subject})


@endpoint("POST", "/v1/consents", "consents.grant")
def grant(route: Route, body: dict[str, Any]) -> Call[m.ConsentGranted]:
    return route.call(read_object, json=body)


@endpoint("POST", "/v1/consents/withdraw", "consents.withdraw")
def withdraw(route: Route, subject: _Id, deployment: _Id | None) -> Call[m.DeletionReceipt]:
    return route.call(read_object, json={"subject": subject, "deployment": deployment})


@endpoint("GET", "/v1/consents", "consents.list")
def list_consents(route: Route, subject: _Id | None, deployment: _Id | None,
                  limit: int | None, cursor: str | None) -> Call[Page[m.Consent]]:
    return route.call(read_page, params={"subject": subject, "deployment": deployment,
                                         "limit": limit, "cursor": cursor})


# ---- faces ------------------------------------------------------------------------------------

@endpoint("POST", "/v1/enrol", "faces.enrol")
def enrol(route: Route, subject: _Id, deployment: _Id, images: Sequence[Image],
          source: str, keep_image: bool, attributes: Attributes) -> Call[m.Enrolment]:
    if not images:
        raise ValueError("faces.enrol: at least one image is needed")
    return route.call(read_object, data={
        "subject": subject, "deployment": deployment, "source": source,
        "keep_image": keep_image, "attributes": _attrs(attributes)},
        files=[image_part("images", image, i) for i, image in enumerate(images)])


@endpoint("POST", "/v1/enrol/batch", "faces.enrol_batch")
def enrol_batch(route: Route, deployment: _Id, images: Sequence[tuple[_Id, Image]]
                ) -> Call[m.BatchEnrolment]:
    if not images:
        raise ValueError("faces.enrol_batch: at least one image is needed")
    return route.call(read_object, data={
        "deployment": deployment, "subject": [subject for subject, _ in images]},
        files=[image_part("images", image, i) for i, (_, image) in enumerate(images)])


@endpoint("POST", "/v1/verify", "faces.verify")
def verify(route: Route, subject: _Id, deployment: _Id, image: Image,
           transaction: str | None, choice: Literal["face"] | None,
           attributes: Attributes) -> Call[m.Verification]:
    return route.call(read_object, data={
        "subject": subject, "deployment": deployment, "transaction": transaction,
        "choice": choice, "attributes": _attrs(attributes)},
        files=[image_part("image", image)])


@endpoint("POST", "/v1/identify", "faces.identify")
def identify(route: Route, deployment: _Id, image: Image, top: int, transaction: str | None,
             choice: Literal["face"] | None, attributes: Attributes
             ) -> Call[m.Identification]:
    return route.call(read_object, data={
        "deployment": deployment, "top": top, "transaction": transaction, "choice": choice,
        "attributes": _attrs(attributes)}, files=[image_part("image", image)])


@endpoint("POST", "/v1/detect", "faces.detect")
def detect(route: Route, image: Image, attributes: Attributes) -> Call[m.Detection]:
    return route.call(read_object, data={"attributes": _attrs(attributes)},
                      files=[image_part("image", image)])


@endpoint("GET", "/v1/attributes", "faces.attributes")
def attributes(route: Route, names: Attributes) -> Call[dict[str, Any]]:
    return route.call(read_object, params={"names": _attrs(names)})


@endpoint("POST", "/v1/decline", "faces.decline")
def decline(route: Route, deployment: _Id, subject: _Id | None, transaction: str | None
            ) -> Call[m.Declined]:
    return route.call(read_object, json={"deployment": deployment, "subject": subject,
                                         "transaction": transaction})


@endpoint("POST", "/v1/transactions/review", "faces.review")
def review(route: Route, body: dict[str, Any]) -> Call[o.Review]:
    return route.call(read_object, json=body)


# ---- the audit trail --------------------------------------------------------------------------

@endpoint("GET", "/v1/audit", "audit.records")
def audit_records(route: Route, limit: int | None, cursor: str | None, operation: str | None,
                  subject: _Id | None, deployment: _Id | None
                  ) -> Call[Page[o.AuditRecord]]:
    return route.call(read_page, params={
        "limit": limit, "cursor": cursor, "operation": operation, "subject": subject,
        "deployment": deployment})


@endpoint("GET", "/v1/audit/verify", "audit.verify")
def audit_verify(route: Route) -> Call[o.ChainReport]:
    return route.call(read_object)


@endpoint("POST", "/v1/audit/checkpoints", "audit.checkpoint")
def checkpoint(route: Route) -> Call[o.Checkpoint]:
    return route.call(read_object)


@endpoint("GET", "/v1/audit/checkpoints", "audit.checkpoints")
def checkpoints(route: Route, limit: int | None, cursor: str | None
                ) -> Call[Page[o.Checkpoint]]:
    return route.call(read_page, params={"limit": limit, "cursor": cursor})


@endpoint("GET", "/v1/audit/proof/{seq}", "audit.proof")
def proof(route: Route, seq: int, size: int | None) -> Call[o.InclusionProof]:
    return route.call(read_object, at={"seq": seq}, params={"size": size})


@endpoint("GET", "/v1/audit/trail", "audit.trail")
def trail(route: Route) -> Call[bytes]:
    return route.call(read_bytes)


# ---- compliance -------------------------------------------------------------------------------

@endpoint("GET", "/v1/filing", "compliance.filing")
def filing(route: Route) -> Call[o.FilingOverview]:
    return route.call(read_object)


@endpoint("POST", "/v1/filing", "compliance.record_filing")
def record_filing(route: Route, body: dict[str, Any]) -> Call[o.FilingStatus]:
    return route.call(read_object, json=body)


@endpoint("GET", "/v1/filing/dossier", "compliance.dossier")
def dossier(route: Route, operator: str | None, lang: Lang, fmt: Format) -> Call[Document]:
    return route.call(read_document, params={"operator": operator, "lang": lang,
                                             "format": fmt})


@endpoint("POST", "/v1/housekeeping", "compliance.housekeeping")
def housekeeping(route: Route) -> Call[o.Housekeeping]:
    return route.call(read_object)


@endpoint("POST", "/v1/documents/receipt", "compliance.receipt")
def receipt(route: Route, receipt: Mapping[str, Any], lang: Lang, fmt: Format
            ) -> Call[Document]:
    return route.call(read_document, json=dict(receipt), params={"lang": lang, "format": fmt})


# ---- the person's requests --------------------------------------------------------------------

@endpoint("POST", "/v1/rights/access", "rights.access")
def access(route: Route, subject: _Id, requester_verified: bool) -> Call[o.Access]:
    return route.call(read_object, json={"subject": subject,
                                         "requester_verified": requester_verified})


@endpoint("POST", "/v1/rights/delete", "rights.delete")
def erase(route: Route, subject: _Id, requester_verified: bool) -> Call[o.RightsDeletion]:
    return route.call(read_object, json={"subject": subject,
                                         "requester_verified": requester_verified})


@endpoint("POST", "/v1/subjects/{subject_id}/export", "rights.export")
def export(route: Route, subject: _Id, basis: str | None, with_identity: bool
           ) -> Call[o.Export]:
    return route.call(read_object, at={"subject_id": subject},
                      json={"basis": basis, "with_identity": with_identity})


# ---- keys and rules ---------------------------------------------------------------------------

@endpoint("POST", "/v1/keys", "keys.create")
def create_key(route: Route, name: str, role: str, deployment: str | None = None,
               device: str | None = None) -> Call[o.KeyCreated]:
    return route.call(read_object, json={"name": name, "role": role,
                                         "deployment": deployment, "device": device})


@endpoint("GET", "/v1/keys", "keys.list")
def list_keys(route: Route, limit: int | None, cursor: str | None) -> Call[Page[o.Key]]:
    return route.call(read_page, params={"limit": limit, "cursor": cursor})


@endpoint("DELETE", "/v1/keys/{key_id}", "keys.revoke")
def revoke_key(route: Route, key: _Id) -> Call[o.KeyRevoked]:
    return route.call(read_object, at={"key_id": key})


@endpoint("GET", "/v1/whoami", "keys.whoami")
def whoami(route: Route) -> Call[o.WhoAmI]:
    return route.call(read_object)


@endpoint("GET", "/v1/rules", "rules.list")
def rules(route: Route, pack: str | None) -> Call[Page[o.Rule]]:
    return route.call(read_page, params={"pack": pack})


def _plain(value: Mapping[str, Any]) -> dict[str, Any]:
    """A body with dates as ISO strings."""
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in value.items()}
