"""Faces at work: enrolment under a consent, 1:1 verification, 1:N identification over the
deployment's consented templates, and detection. No face attribute is analysed
(``attributes.sensitive``) and no image is kept (``images.no-retention``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from facegate.api.deps import Service, Who, attrs, read_image
from facegate.api.schemas import DecisionOut, Finding

router = APIRouter(tags=["faces"])


class Quality(BaseModel):
    """A face's quality; ``issues`` says why it is unfit for enrolment (empty when fit)."""

    size: int
    detector_score: float
    sharpness: float
    brightness: float
    yaw: float
    roll: float
    pitch: float
    issues: list[str]
    detector: str


class EnrolledTemplate(BaseModel):
    id: str
    image: int = Field(description="The image's position in the request.")
    quality: Quality


class RejectedImage(BaseModel):
    """An image that yielded no template, and why; a quality refusal also lists ``issues``."""

    model_config = ConfigDict(extra="allow")

    image: int
    error: str
    message: str


class EnrolOut(BaseModel):
    subject: str
    deployment: str
    templates: list[EnrolledTemplate]
    rejected: list[RejectedImage]
    engine: str
    model_version: str
    expires_at: str
    decision: DecisionOut


class Candidate(BaseModel):
    subject: str
    score: float


class VerifyOut(BaseModel):
    subject: str
    deployment: str
    match: bool
    approved: bool = Field(description="False where a manual check decides (major interest).")
    manual_review_required: bool
    warnings: list[Finding]
    score: float
    threshold: float
    fmr_target: float
    faces_detected: int
    engine: str
    decision: DecisionOut


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
    decision: DecisionOut


class Box(BaseModel):
    left: int
    top: int
    right: int
    bottom: int


class DetectedFace(BaseModel):
    box: Box
    quality: Quality


class DetectOut(BaseModel):
    width: int
    height: int
    faces: list[DetectedFace]


@router.post("/v1/enrol", status_code=201, response_model=EnrolOut)
def enrol(who: Who, service: Service, subject: Annotated[str, Form()],
          deployment: Annotated[str, Form()],
          images: Annotated[list[UploadFile], File(description="Face photos")],
          attributes: Annotated[str | None, Form()] = None,
          source: Annotated[Literal["live", "research", "training"], Form()] = "live",
          keep_image: Annotated[bool, Form()] = False) -> dict[str, Any]:
    """Compute templates for a consenting subject; the images are never kept."""
    return service.matching.enrol(who, subject, deployment,
                                  [read_image(service, i) for i in images],
                                  attributes=attrs(attributes), source=source,
                                  keep_image=keep_image)


@router.post("/v1/verify", response_model=VerifyOut)
def verify(who: Who, service: Service, subject: Annotated[str, Form()],
           deployment: Annotated[str, Form()], image: Annotated[UploadFile, File()],
           attributes: Annotated[str | None, Form()] = None,
           transaction: Annotated[str | None, Form()] = None,
           choice: Annotated[Literal["face"] | None, Form()] = None) -> dict[str, Any]:
    """1:1: does the face belong to the claimed subject?"""
    return service.matching.verify(who, subject, deployment, read_image(service, image),
                                   attributes=attrs(attributes), transaction=transaction,
                                   choice=choice)


@router.post("/v1/identify", response_model=IdentifyOut)
def identify(who: Who, service: Service, deployment: Annotated[str, Form()],
             image: Annotated[UploadFile, File()],
             top: Annotated[int, Form(ge=1, le=100)] = 5,
             attributes: Annotated[str | None, Form()] = None,
             transaction: Annotated[str | None, Form()] = None,
             choice: Annotated[Literal["face"] | None, Form()] = None) -> dict[str, Any]:
    """1:N over the templates consented for this deployment; none below the threshold."""
    return service.matching.identify(who, deployment, read_image(service, image), top,
                                     attributes=attrs(attributes), transaction=transaction,
                                     choice=choice)


@router.post("/v1/detect", response_model=DetectOut)
def detect(who: Who, service: Service, image: Annotated[UploadFile, File()],
           attributes: Annotated[str | None, Form()] = None) -> dict[str, Any]:
    """Faces and their quality; sensitive attributes are refused (attributes.sensitive)."""
    return service.matching.detect(who, read_image(service, image), attrs(attributes))


@router.get("/v1/attributes")
def attributes(who: Who, service: Service,
               names: Annotated[str | None, Query()] = "race") -> dict[str, Any]:
    """There is no attribute analysis; every request is refused and audited."""
    service.matching.request_attributes(who, attrs(names))
    return {}
