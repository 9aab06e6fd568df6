"""The operator's duties and the person's requests: impact assessments, the filing duty,
housekeeping, manual reviews, rights requests, exports, and documents as PDF or HTML."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from facegate.api.deps import DOCUMENT, Service, Who, document
from facegate.api.paging import KNOWN_QUERY, PAGED, Paging, paginate
from facegate.api.schemas import ConsentOut, DecisionOut, DeletionReceipt, TemplateOut
from facegate.service.limits import ID_MAX, REF_MAX, TEXT_MAX, TRANSACTION_MAX

router = APIRouter(dependencies=KNOWN_QUERY)


# A text a person reads: a plain string or {"zh": ..., "en": ...} (at least one language).
_Narrative = Annotated[str, Field(max_length=TEXT_MAX)]
AssessmentText = _Narrative | dict[Literal["zh", "en"], _Narrative]


class AssessmentIn(BaseModel):
    assessor: str = Field(min_length=1, max_length=200,
                          description="The assessor's name, plain text.")
    assessed_on: date | None = None
    sections: dict[str, AssessmentText] = Field(
        max_length=8, description="lawfulness, impact, risks, protections; each a string or "
                                  "{zh, en}")
    conclusion: AssessmentText = Field(description="A string or {zh, en}.")


class IncidentIn(BaseModel):
    what: str = Field(min_length=1, max_length=500)


class FilingIn(BaseModel):
    kind: Literal["filing", "change", "deregister"] = "filing"
    filed_on: date
    reference: str = Field(min_length=1, max_length=200)
    operator: str | None = Field(default=None, max_length=200, description=(
        "The operator whose task was filed; may be left out when there is only one."))


class ReviewIn(BaseModel):
    deployment: str = Field(max_length=ID_MAX)
    transaction: str = Field(min_length=1, max_length=TRANSACTION_MAX)
    staff: str | None = Field(default=None, max_length=REF_MAX,
                              description="The staff member who checked.")
    outcome: Literal["confirmed", "rejected"] | None = None
    subject: str | None = Field(default=None, max_length=ID_MAX)


class AssessmentOut(BaseModel):
    deployment: str
    version: int
    purpose: str
    mode: str
    assessor: str
    assessed_on: str
    keep_until: str = Field(description="Kept at least until this day.")
    sections: dict[str, str | dict[str, str]] = Field(
        description="Each a plain string or {zh, en}, as given.")
    conclusion: str | dict[str, str] = Field(description="A plain string or {zh, en}.")
    stale: bool
    stale_reason: str | None


class AssessmentDeleted(BaseModel):
    deployment: str
    version: int
    deleted: bool


class IncidentOut(BaseModel):
    deployment: str
    assessment: int = Field(description="The version made stale.")
    stale: bool


class FilingTask(BaseModel):
    kind: str
    rule: str
    started_on: str
    due_on: str | None = Field(description=(
        "The due date; in a year whose holiday schedule is not loaded, the earliest date the "
        "deadline can fall on (due_provisional)."))
    due_provisional: bool = Field(default=False, description=(
        "The due date is provisional: the earliest possible, until the schedule of "
        "missing_years is loaded (facegate filing calendar FILE)."))
    missing_years: list[int] = Field(default_factory=list)
    filed_on: str | None
    detail: str
    overdue: bool
    working_days_left: int | None


class FilingWarning(BaseModel):
    level: str
    rule: str
    en: str
    zh: str


class FilingStatusOut(BaseModel):
    """One operator's filing duty: the duty is each personal information handler's own."""

    operator: str = Field(description="The operator (personal information handler).")
    names: list[str] = Field(description="Every name its manifests give it (zh and en); "
                                         "deployments sharing any one are this operator's.")
    deployments: list[str] = Field(description="Its active deployments.")
    pack: str
    persons: int
    threshold: int
    inclusive: bool
    authority: str
    required: bool
    reasons: list[str]
    crossed_on: str | None = Field(description="The day the filing duty arose.")
    as_of: str
    tasks: list[FilingTask]
    warnings: list[FilingWarning]
    what_to_file: list[str]
    working_days: int


class FilingOverviewOut(BaseModel):
    operators: list[FilingStatusOut]


class HousekeepingOut(BaseModel):
    at: str
    expired_templates: int
    subjects: int
    deployments: list[str]
    index_log_pruned: int = Field(description="Rows of the 1:N index change log older than "
                                              "a day, removed.")
    filing_warnings: list[FilingWarning]


class ReviewOut(BaseModel):
    deployment: str
    transaction: str
    staff: str | None
    outcome: str | None
    approved: bool
    decision: DecisionOut


class RightsIn(BaseModel):
    subject: str = Field(max_length=ID_MAX)
    requester_verified: bool = Field(
        default=False, description="The requester's identity was checked by the officer.")


class ExportIn(BaseModel):
    basis: str | None = Field(default=None, max_length=REF_MAX,
                              description="The law or separate consent.")
    with_identity: bool = False


class HeldAt(BaseModel):
    """A deployment the person's consents name."""

    id: str
    name: str | None
    purpose: str
    mode: str
    operator: dict[str, Any] | None = Field(description="As the manifest names it.")


class AccessOut(BaseModel):
    subject: str
    decision: DecisionOut
    deployments: list[HeldAt]
    consents: list[ConsentOut]
    templates: list[TemplateOut]
    images_kept: int
    how_to_delete: str


class RightsDeletion(DeletionReceipt):
    request: str


class ExportedTemplate(BaseModel):
    id: str
    deployment: str
    engine: str
    model_version: str
    expires_at: str
    vector: list[float]


class ExportOut(BaseModel):
    subject: str = Field(description="The pseudonym; no identity leaves with it.")
    basis: str | None
    templates: list[ExportedTemplate]
    decision: DecisionOut


# ---- impact assessments -------------------------------------------------------------------------

@router.post("/v1/deployments/{deployment_id}/assessments", status_code=201,
             tags=["assessments"], response_model=AssessmentOut)
def record_assessment(who: Who, service: Service, deployment_id: str,
                      body: AssessmentIn) -> dict[str, Any]:
    """Record an impact assessment (four sections); no deployment is used without one."""
    return service.assessments.record(who, deployment_id, body.model_dump())


@router.get("/v1/deployments/{deployment_id}/assessments", tags=["assessments"],
            response_model=list[AssessmentOut], responses=PAGED)
def list_assessments(who: Who, service: Service, deployment_id: str, page: Paging,
                     response: Response) -> list[dict[str, Any]]:
    """The deployment's assessments by version, paginated; the latest says if it is stale."""
    return paginate(service.assessments.all(who, deployment_id), lambda a: (int(a["version"]),),
                    page, response, f"assessments:{deployment_id}")


@router.delete("/v1/deployments/{deployment_id}/assessments/{version}", tags=["assessments"],
               response_model=AssessmentDeleted)
def delete_assessment(who: Who, service: Service, deployment_id: str,
                      version: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> dict[str, Any]:
    """Refused while the assessment must be kept (three years)."""
    return service.assessments.delete(who, deployment_id, version)


@router.post("/v1/deployments/{deployment_id}/incidents", tags=["assessments"],
             response_model=IncidentOut)
def report_incident(who: Who, service: Service, deployment_id: str,
                    body: IncidentIn) -> dict[str, Any]:
    """A major incident makes the assessment stale until reassessed."""
    return service.assessments.incident(who, deployment_id, body.what)


# ---- transactions of major interest -------------------------------------------------------------

@router.post("/v1/transactions/review", tags=["faces"], response_model=ReviewOut)
def review_transaction(who: Who, service: Service, body: ReviewIn) -> dict[str, Any]:
    """A named staff member's manual check decides a transaction of major interest."""
    return service.reviews.review(who, body.deployment, body.transaction, body.staff,
                                  body.outcome, body.subject)


# ---- the filing duty, housekeeping --------------------------------------------------------------

@router.get("/v1/filing", tags=["compliance"], response_model=FilingOverviewOut)
def filing_status(who: Who, service: Service) -> dict[str, Any]:
    """For each operator: persons counted at its deployments, threshold, dates, tasks and
    warnings (filing.threshold)."""
    return {"operators": service.filing.statuses(who)}


@router.post("/v1/filing", tags=["compliance"], response_model=FilingStatusOut)
def record_filing(who: Who, service: Service, body: FilingIn) -> dict[str, Any]:
    """Record that the operator filed; returns its filing status."""
    return service.filing.record(who, body.kind, body.filed_on, body.reference, body.operator)


@router.post("/v1/housekeeping", tags=["compliance"], response_model=HousekeepingOut)
def housekeeping(who: Who, service: Service) -> dict[str, Any]:
    """Delete expired templates now (the service also runs this periodically)."""
    return service.housekeeping.run(who)


# ---- the person's requests ----------------------------------------------------------------------

@router.post("/v1/rights/access", tags=["rights"], response_model=AccessOut)
def access_request(who: Who, service: Service, body: RightsIn) -> dict[str, Any]:
    """What face data is held about the person (rights.access)."""
    return service.rights.access(who, body.subject, body.requester_verified)


@router.post("/v1/rights/delete", tags=["rights"], response_model=RightsDeletion)
def deletion_request(who: Who, service: Service, body: RightsIn) -> dict[str, Any]:
    """Delete the person's face data; returns a deletion receipt (rights.delete)."""
    return service.rights.delete(who, body.subject, body.requester_verified)


@router.post("/v1/subjects/{subject_id}/export", tags=["rights"],
             response_model=ExportOut)
def export_templates(who: Who, service: Service, subject_id: str,
                     body: ExportIn) -> dict[str, Any]:
    """Templates leave only under a cited basis, pseudonymous (storage.on-device)."""
    return service.exports.templates(who, subject_id, body.basis, body.with_identity)


# ---- documents ----------------------------------------------------------------------------------

@router.get("/v1/deployments/{deployment_id}/documents/{kind}", tags=["documents"],
            response_class=Response, responses=DOCUMENT)
def get_document(who: Who, service: Service, deployment_id: str,
                 kind: Literal["notice", "sign", "pia"],
                 lang: Literal["zh", "en"] = "zh", size: Literal["A4", "A3"] = "A4",
                 format: Literal["pdf", "html"] = "pdf", draft: bool = False) -> Response:
    """The deployment's notice, reminder sign or impact assessment report. A notice or sign
    is refused (409, notice.required) while FACEGATE_PUBLIC_URL is unset or a loopback
    address, unless ``draft=true``: a draft is marked DRAFT, not for display."""
    service.deployments.get(who, deployment_id)  # role check: deployment.read
    return document(service.documents.make(who, kind, deployment_id, lang, size, draft=draft),
                    format)


@router.post("/v1/documents/receipt", tags=["documents"], response_class=Response,
             responses=DOCUMENT)
def receipt_document(who: Who, service: Service, receipt: dict[str, Any],
                     lang: Literal["zh", "en"] = "zh",
                     format: Literal["pdf", "html"] = "pdf") -> Response:
    """A deletion receipt (the JSON a withdrawal or deletion returned) as a document."""
    return document(service.documents.make(who, "receipt", lang=lang, receipt=receipt), format)


@router.get("/v1/filing/dossier", tags=["compliance"], response_class=Response,
            responses=DOCUMENT)
def filing_dossier(who: Who, service: Service, lang: Literal["zh", "en"] = "zh",
                   format: Literal["pdf", "html"] = "pdf",
                   operator: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    """One operator's filing dossier (its deployments, persons and assessments); the
    operator may be left out when there is only one."""
    return document(service.documents.make(who, "filing", lang=lang, operator=operator),
                    format)
