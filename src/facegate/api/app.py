"""The REST API. Every endpoint needs an API key (header ``X-API-Key``); the key's role decides
what it may do (``security.controls``): ``operator`` enrols, verifies and identifies;
``officer`` manages deployments, subjects, consents and reads the audit trail; ``auditor`` only
reads the audit trail. Refusals are 403 with the rule ids; bad input 422, 413 or 415."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from facegate import __version__
from facegate.documents import Document
from facegate.errors import FacegateError, ImageTooLarge
from facegate.policy.catalogue import rules_catalogue
from facegate.policy.packs import get_pack
from facegate.service import Actor, Facegate
from facegate.web import console, public
from facegate.web.security import SecurityHeaders

API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False,
                       description="An API key made by `facegate key create` or `facegate init`.")


class SubjectIn(BaseModel):
    ref: str = Field(min_length=1, max_length=200, description="External reference.")
    birth_date: date | None = Field(default=None, description="Decides guardian consent.")


class ConsentIn(BaseModel):
    subject: str
    deployment: str
    purpose: str
    method: Literal["electronic", "written"] = "electronic"
    guardian_ref: str | None = None
    guardian_relationship: str | None = None
    notice_version: int | None = Field(default=None, description="Default: the current one.")


class WithdrawIn(BaseModel):
    subject: str
    deployment: str | None = Field(default=None, description="Omit to withdraw everywhere.")


class DeclineIn(BaseModel):
    deployment: str
    subject: str | None = None
    transaction: str | None = Field(default=None, description="Not prompted again in it.")


class AssessmentIn(BaseModel):
    assessor: str = Field(min_length=1, max_length=200)
    assessed_on: date | None = None
    sections: dict[str, str] = Field(description="lawfulness, impact, risks, protections")
    conclusion: str = Field(min_length=1)


class IncidentIn(BaseModel):
    what: str = Field(min_length=1, max_length=500)


class FilingIn(BaseModel):
    kind: Literal["filing", "change", "deregister"] = "filing"
    filed_on: date
    reference: str = Field(min_length=1, max_length=200)


class ReviewIn(BaseModel):
    deployment: str
    transaction: str = Field(min_length=1, max_length=100)
    staff: str | None = Field(default=None, description="The staff member who checked.")
    outcome: Literal["confirmed", "rejected"] | None = None
    subject: str | None = None


class ExportIn(BaseModel):
    basis: str | None = Field(default=None, description="The law or separate consent.")
    with_identity: bool = False


class RightsIn(BaseModel):
    subject: str
    requester_verified: bool = Field(
        default=False, description="The requester's identity was checked by the officer.")


class KeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Literal["operator", "officer", "auditor", "admin"]


class Candidate(BaseModel):
    subject: str
    score: float


class VerifyOut(BaseModel):
    subject: str
    deployment: str
    match: bool
    approved: bool = Field(description="False where a manual check decides (major interest).")
    manual_review_required: bool
    warnings: list[dict[str, Any]]
    score: float
    threshold: float
    fmr_target: float
    faces_detected: int
    engine: str
    decision: dict[str, Any]


class IdentifyOut(BaseModel):
    deployment: str
    candidates: list[Candidate]
    threshold: float
    fmr_target: float = Field(description="The false-match rate the threshold was set for.")
    gallery: int = Field(description="Subjects searched.")
    expected_false_matches: float = Field(
        description="Per probe of someone not enrolled: gallery size x FMR.")
    faces_detected: int
    engine: str
    decision: dict[str, Any]


class _Unauthorised(Exception):
    pass


def _actor(request: Request, key: Annotated[str | None, Depends(API_KEY)]) -> Actor:
    """The caller, from the API key; no endpoint works without one."""
    who = request.app.state.service.keys.authenticate(key)
    if not isinstance(who, Actor):
        raise _Unauthorised()
    return who


Who = Annotated[Actor, Depends(_actor)]


def _document(doc: Document, fmt: str) -> Response:
    if fmt == "html":
        return HTMLResponse(doc.html)
    name = f"{doc.kind}-{doc.lang}.pdf"
    return Response(doc.pdf(), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})


def _error(status: int, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(status_code=status, content=body)


SYSTEM = Actor("system:housekeeping", "admin")


def _housekeeper(service: Facegate, every_s: float, stop: threading.Event) -> None:
    """Delete expired templates on a timer (``retention.minimum``) until ``stop`` is set."""
    while not stop.wait(every_s):
        try:
            service.housekeeping.run(SYSTEM)
        except Exception:  # keep serving; the next round tries again
            logging.getLogger("facegate").exception("housekeeping failed")


def create_app(service: Facegate, housekeeping_every_s: float | None = None) -> FastAPI:
    """The API app. Housekeeping runs at start and then every ``housekeeping_every_s``
    seconds (default: the rule pack's ``housekeeping_interval_s``; 0 turns it off)."""
    every = (get_pack(service.settings.rule_pack).params["housekeeping_interval_s"]
             if housekeeping_every_s is None else housekeeping_every_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        worker = None
        if every > 0:
            service.housekeeping.run(SYSTEM)
            worker = threading.Thread(target=_housekeeper, args=(service, every, stop),
                                      name="facegate-housekeeping", daemon=True)
            worker.start()
        yield
        stop.set()
        if worker is not None:
            worker.join(5)

    app = FastAPI(
        lifespan=lifespan,
        title="facegate",
        version=__version__,
        description="Face recognition in which every operation passes a policy gate built from "
                    "the CAC face recognition rules and leaves a hash-chained audit record.",
    )
    app.state.service = service
    max_bytes = service.settings.image_limits.max_bytes

    @app.exception_handler(FacegateError)
    async def _facegate_error(_: Request, exc: FacegateError) -> JSONResponse:
        return _error(exc.http_status, exc.to_dict())

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return _error(422, {"error": "bad_input", "message": "; ".join(problems),
                            "problems": problems})

    @app.exception_handler(_Unauthorised)
    async def _unauth(_: Request, exc: _Unauthorised) -> JSONResponse:
        return JSONResponse(status_code=401, headers={"WWW-Authenticate": "APIKey"},
                            content={"error": "unauthorised",
                                     "message": "a valid API key is required (X-API-Key)",
                                     "rules": ["security.controls"]})

    def read(upload: UploadFile) -> bytes:
        data = upload.file.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise ImageTooLarge(f"{upload.filename or 'the image'} is larger than "
                                f"{max_bytes} bytes")
        return data

    def attrs(value: str | None) -> list[str]:
        return [a for a in (value or "").split(",") if a.strip()]

    # ---- deployments ----------------------------------------------------------------------

    @app.post("/v1/deployments", status_code=201, tags=["deployments"])
    def apply_deployment(who: Who, manifest: dict[str, Any]) -> dict[str, Any]:
        """Validate a manifest against the rules and register it (or refuse: 403/422)."""
        return service.deployments.apply(who, manifest)

    @app.post("/v1/deployments/check", tags=["deployments"])
    def check_deployment(who: Who, manifest: dict[str, Any],
                         pack: str | None = None) -> dict[str, Any]:
        """The gate's decision on a manifest, rule by rule, without registering it."""
        service.deployments.all(who)  # role check: deployment.read
        return service.deployments.check(manifest, pack, who).to_dict()

    @app.get("/v1/deployments", tags=["deployments"])
    def list_deployments(who: Who) -> list[dict[str, Any]]:
        return service.deployments.all(who)

    @app.get("/v1/deployments/{deployment_id}", tags=["deployments"])
    def get_deployment(who: Who, deployment_id: str) -> dict[str, Any]:
        return service.deployments.get(who, deployment_id)

    @app.post("/v1/deployments/{deployment_id}/terminate", tags=["deployments"])
    def terminate_deployment(who: Who, deployment_id: str) -> dict[str, Any]:
        """End face recognition here: templates deleted, consents closed (filing.deregister)."""
        return service.deployments.terminate(who, deployment_id)

    @app.post("/v1/deployments/{deployment_id}/assessments", status_code=201,
              tags=["assessments"])
    def record_assessment(who: Who, deployment_id: str, body: AssessmentIn) -> dict[str, Any]:
        """Record an impact assessment (four sections); no deployment is used without one."""
        return service.assessments.record(who, deployment_id, body.model_dump())

    @app.get("/v1/deployments/{deployment_id}/assessments", tags=["assessments"])
    def list_assessments(who: Who, deployment_id: str) -> list[dict[str, Any]]:
        return service.assessments.all(who, deployment_id)

    @app.delete("/v1/deployments/{deployment_id}/assessments/{version}", tags=["assessments"])
    def delete_assessment(who: Who, deployment_id: str, version: int) -> dict[str, Any]:
        """Refused while the assessment must be kept (three years)."""
        return service.assessments.delete(who, deployment_id, version)

    @app.post("/v1/deployments/{deployment_id}/incidents", tags=["assessments"])
    def report_incident(who: Who, deployment_id: str, body: IncidentIn) -> dict[str, Any]:
        """A major incident makes the assessment stale until reassessed."""
        return service.assessments.incident(who, deployment_id, body.what)

    @app.get("/v1/deployments/{deployment_id}/documents/{kind}", tags=["documents"])
    def get_document(who: Who, deployment_id: str,
                     kind: Literal["notice", "sign", "pia"],
                     lang: Literal["zh", "en"] = "zh", size: Literal["A4", "A3"] = "A4",
                     format: Literal["pdf", "html"] = "pdf") -> Response:
        """The deployment's notice, reminder sign or impact assessment report."""
        service.deployments.get(who, deployment_id)  # role check: deployment.read
        return _document(service.documents.make(who, kind, deployment_id, lang, size), format)

    @app.get("/v1/deployments/{deployment_id}/notice", tags=["deployments"])
    def get_notice(who: Who, deployment_id: str,
                   version: int | None = None) -> dict[str, Any]:
        service.deployments.get(who, deployment_id)
        return service.deployments.notice(deployment_id, version)

    # ---- subjects and consents ------------------------------------------------------------

    @app.post("/v1/subjects", status_code=201, tags=["subjects"])
    def add_subject(who: Who, body: SubjectIn) -> dict[str, Any]:
        return service.subjects.add(who, body.ref, body.birth_date)

    @app.get("/v1/subjects/{subject_id}", tags=["subjects"])
    def show_subject(who: Who, subject_id: str) -> dict[str, Any]:
        """What is held about a subject: consents and template metadata, never values."""
        return service.subjects.show(who, subject_id)

    @app.delete("/v1/subjects/{subject_id}", tags=["subjects"])
    def delete_subject(who: Who, subject_id: str) -> dict[str, Any]:
        """Delete templates, index entries, key and identity; returns a deletion receipt."""
        return service.subjects.delete(who, subject_id)

    @app.post("/v1/consents", status_code=201, tags=["consents"])
    def grant_consent(who: Who, body: ConsentIn) -> dict[str, Any]:
        return service.consents.grant(who, body.subject, body.deployment, body.purpose,
                                     body.method, body.guardian_ref,
                                     body.guardian_relationship, body.notice_version)

    @app.post("/v1/consents/withdraw", tags=["consents"])
    def withdraw_consent(who: Who, body: WithdrawIn) -> dict[str, Any]:
        """Withdraw: templates and index entries are gone before this returns."""
        return service.consents.withdraw(who, body.subject, body.deployment)

    @app.get("/v1/consents", tags=["consents"])
    def list_consents(who: Who, subject: str | None = None,
                      deployment: str | None = None) -> list[dict[str, Any]]:
        return service.consents.all(who, subject, deployment)

    # ---- faces ----------------------------------------------------------------------------

    @app.post("/v1/enrol", status_code=201, tags=["faces"])
    def enrol(who: Who, subject: Annotated[str, Form()], deployment: Annotated[str, Form()],
              images: Annotated[list[UploadFile], File(description="Face photos")],
              attributes: Annotated[str | None, Form()] = None,
              source: Annotated[Literal["live", "research", "training"], Form()] = "live",
              keep_image: Annotated[bool, Form()] = False) -> dict[str, Any]:
        """Compute templates for a consenting subject; the images are never kept."""
        return service.matching.enrol(who, subject, deployment, [read(i) for i in images],
                             attributes=attrs(attributes), source=source,
                             keep_image=keep_image)

    @app.post("/v1/verify", tags=["faces"])
    def verify(who: Who, subject: Annotated[str, Form()], deployment: Annotated[str, Form()],
               image: Annotated[UploadFile, File()],
               attributes: Annotated[str | None, Form()] = None,
               transaction: Annotated[str | None, Form()] = None,
               choice: Annotated[Literal["face"] | None, Form()] = None) -> VerifyOut:
        """1:1: does the face belong to the claimed subject?"""
        return VerifyOut(**service.matching.verify(who, subject, deployment, read(image),
                                          attributes=attrs(attributes),
                                          transaction=transaction, choice=choice))

    @app.post("/v1/identify", tags=["faces"])
    def identify(who: Who, deployment: Annotated[str, Form()],
                 image: Annotated[UploadFile, File()],
                 top: Annotated[int, Form(ge=1, le=100)] = 5,
                 attributes: Annotated[str | None, Form()] = None,
                 transaction: Annotated[str | None, Form()] = None,
                 choice: Annotated[Literal["face"] | None, Form()] = None) -> IdentifyOut:
        """1:N over the templates consented for this deployment; none below the threshold."""
        return IdentifyOut(**service.matching.identify(who, deployment, read(image), top,
                                              attributes=attrs(attributes),
                                              transaction=transaction, choice=choice))

    @app.post("/v1/detect", tags=["faces"])
    def detect(who: Who, image: Annotated[UploadFile, File()],
               attributes: Annotated[str | None, Form()] = None) -> dict[str, Any]:
        """Faces and their quality; sensitive attributes are refused (attributes.sensitive)."""
        return service.matching.detect(who, read(image), attrs(attributes))

    @app.get("/v1/attributes", tags=["faces"])
    def attributes(who: Who,
                   names: Annotated[str | None, Query()] = "race") -> dict[str, Any]:
        """There is no attribute analysis; every request is refused and audited."""
        service.matching.request_attributes(who, attrs(names))
        return {}

    @app.post("/v1/decline", tags=["faces"])
    def decline(who: Who, body: DeclineIn) -> dict[str, Any]:
        """The person chose the alternative: recorded, never penalised."""
        return service.consents.decline(who, body.deployment, body.subject, body.transaction)

    @app.post("/v1/transactions/review", tags=["faces"])
    def review_transaction(who: Who, body: ReviewIn) -> dict[str, Any]:
        """A named staff member's manual check decides a transaction of major interest."""
        return service.reviews.review(who, body.deployment, body.transaction, body.staff,
                                          body.outcome, body.subject)

    # ---- the person's rights, exports -----------------------------------------------------

    @app.post("/v1/rights/access", tags=["rights"])
    def access_request(who: Who, body: RightsIn) -> dict[str, Any]:
        """What face data is held about the person (rights.access)."""
        return service.rights.access(who, body.subject, body.requester_verified)

    @app.post("/v1/rights/delete", tags=["rights"])
    def deletion_request(who: Who, body: RightsIn) -> dict[str, Any]:
        """Delete the person's face data; returns a deletion receipt (rights.delete)."""
        return service.rights.delete(who, body.subject, body.requester_verified)

    @app.post("/v1/subjects/{subject_id}/export", tags=["rights"])
    def export_templates(who: Who, subject_id: str, body: ExportIn) -> dict[str, Any]:
        """Templates leave only under a cited basis, pseudonymous (storage.on-device)."""
        return service.exports.templates(who, subject_id, body.basis, body.with_identity)

    @app.post("/v1/documents/receipt", tags=["documents"])
    def receipt_document(who: Who, receipt: dict[str, Any],
                         lang: Literal["zh", "en"] = "zh",
                         format: Literal["pdf", "html"] = "pdf") -> Response:
        """A deletion receipt (the JSON a withdrawal or deletion returned) as a document."""
        return _document(service.documents.make(who, "receipt", lang=lang, receipt=receipt), format)

    # ---- compliance duties ----------------------------------------------------------------

    @app.get("/v1/filing", tags=["compliance"])
    def filing_status(who: Who) -> dict[str, Any]:
        """Persons counted, threshold, dates, tasks and warnings (filing.threshold)."""
        return service.filing.status(who)

    @app.post("/v1/filing", tags=["compliance"])
    def record_filing(who: Who, body: FilingIn) -> dict[str, Any]:
        return service.filing.record(who, body.kind, body.filed_on, body.reference)

    @app.get("/v1/filing/dossier", tags=["compliance"])
    def filing_dossier(who: Who, lang: Literal["zh", "en"] = "zh",
                       format: Literal["pdf", "html"] = "pdf") -> Response:
        return _document(service.documents.make(who, "filing", lang=lang), format)

    @app.post("/v1/housekeeping", tags=["compliance"])
    def housekeeping(who: Who) -> dict[str, Any]:
        """Delete expired templates now (the service also runs this periodically)."""
        return service.housekeeping.run(who)

    @app.get("/v1/rules", tags=["rules"])
    def list_rules(who: Who, pack: str | None = None) -> list[dict[str, Any]]:
        """The rule catalogue, or one pack's rules."""
        return rules_catalogue(pack)

    # ---- audit and keys -------------------------------------------------------------------

    @app.get("/v1/audit", tags=["audit"])
    def audit_tail(who: Who, n: Annotated[int, Query(ge=1, le=1000)] = 50,
                   operation: str | None = None, subject: str | None = None,
                   deployment: str | None = None) -> list[dict[str, Any]]:
        return service.audit.tail(who, n, operation=operation, subject=subject,
                                  deployment=deployment)

    @app.get("/v1/audit/verify", tags=["audit"])
    def audit_verify(who: Who) -> dict[str, Any]:
        """Check the whole hash chain; names the first broken record."""
        return service.audit.verify(who)

    @app.post("/v1/keys", status_code=201, tags=["keys"])
    def create_key(who: Who, body: KeyIn) -> dict[str, Any]:
        return service.keys.create(who, body.name, body.role)

    @app.get("/v1/whoami", tags=["keys"])
    def whoami(who: Who) -> dict[str, str]:
        return {"name": who.name, "role": who.role}

    # ---- web pages: the officer's console and the person's pages --------------------------

    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(packages=[("facegate.web", "static")]), name="static")
    app.include_router(public.router(service))
    app.include_router(console.router(service))

    return app


