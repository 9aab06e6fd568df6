"""Faces at work: enrolment under a consent, 1:1 verification, 1:N identification over the
deployment's consented templates, and detection. No face attribute is analysed
(``attributes.sensitive``) and no image is kept (``images.no-retention``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from facegate.api.deps import Service, Who, attrs, read_image
from facegate.api.paging import KNOWN_QUERY
from facegate.api.schemas import DecisionOut, Finding
from facegate.service.identification import MAX_FACES
from facegate.service.limits import TRANSACTION_MAX

router = APIRouter(tags=["faces"], dependencies=KNOWN_QUERY)


class Quality(BaseModel):
    """A face's quality; ``issues`` says why it is unfit for enrolment (empty when fit)."""

    size: int = Field(description="The face box's smaller side in the pixels the engine "
                                  "analysed (after downscaling a large image).")
    detector_score: float
    sharpness: float
    brightness: float
    yaw: float
    roll: float
    pitch: float
    issues: list[str]
    detector: str


class Candidate(BaseModel):
    """A subject the face matched. At a deployment moving to another engine, ``engine`` says
    which gallery it was found in (scores of two engines are not comparable)."""

    model_config = ConfigDict(extra="allow")

    subject: str
    score: float


class Box(BaseModel):
    """A face's box in the uploaded image's own pixels (upright, after its EXIF orientation);
    ``right`` and ``bottom`` exclusive."""

    left: int
    top: int
    right: int
    bottom: int


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
    possible_duplicates: list[Candidate] = Field(
        description="At a 1:N deployment: other subjects the new face already matches there "
                    "at its threshold (a warning; the enrolment went ahead).")
    engine: str
    model_version: str
    expires_at: str
    decision: DecisionOut


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
    engine: str = Field(description="The engine whose templates were compared.")
    migration: dict[str, Any] | None = Field(
        description="At a deployment moving to another engine, after a match against an old "
                    "template: whether a template of the new engine was stored in its place.")
    decision: DecisionOut


class Gallery(BaseModel):
    engine: str
    threshold: float
    fmr_target: float
    gallery: int


class IdentifiedFace(BaseModel):
    box: Box
    candidates: list[Candidate]


class IdentifyOut(BaseModel):
    deployment: str
    candidates: list[Candidate] = Field(description="The largest face's candidates.")
    faces: list[IdentifiedFace] = Field(
        description=f"Each face searched (the {MAX_FACES} largest), largest first, with its "
                    "candidates.")
    threshold: float
    fmr_target: float = Field(description="The false-match rate the threshold was set for.")
    gallery: int = Field(description="Subjects searched.")
    expected_false_matches: float = Field(
        description="Per face searched, of someone not enrolled: gallery size x FMR.")
    faces_detected: int
    engine: str = Field(description="The deployment's engine.")
    engines: list[Gallery] = Field(
        description="Each gallery searched: one, or two while the deployment moves to another "
                    "engine, each at its own calibrated threshold.")
    decision: DecisionOut


class DetectedFace(BaseModel):
    box: Box
    quality: Quality


class DetectOut(BaseModel):
    width: int = Field(description="The uploaded image's width (upright), in pixels.")
    height: int = Field(description="The uploaded image's height (upright), in pixels.")
    faces: list[DetectedFace]


@router.post("/v1/enrol", status_code=201, response_model=EnrolOut)
def enrol(who: Who, service: Service, subject: Annotated[str, Form()],
          deployment: Annotated[str, Form()],
          images: Annotated[list[UploadFile], File(description="Face photos")],
          attributes: Annotated[str | None, Form()] = None,
          source: Annotated[Literal["live", "research", "training"], Form()] = "live",
          keep_image: Annotated[bool, Form()] = False) -> dict[str, Any]:
    """Compute templates for a consenting subject; the images are never kept. A face that
    matches none of the subject's templates already held is refused (409
    ``identity_mismatch``)."""
    return service.matching.enrol(who, subject, deployment,
                                  [read_image(service, i) for i in images],
                                  attributes=attrs(attributes), source=source,
                                  keep_image=keep_image)


@router.post("/v1/verify", response_model=VerifyOut)
def verify(who: Who, service: Service, subject: Annotated[str, Form()],
           deployment: Annotated[str, Form()], image: Annotated[UploadFile, File()],
           attributes: Annotated[str | None, Form()] = None,
           transaction: Annotated[str | None, Form(max_length=TRANSACTION_MAX)] = None,
           choice: Annotated[Literal["face"] | None, Form()] = None) -> dict[str, Any]:
    """1:1: does the face belong to the claimed subject? One person at a time: a second face
    about as large as the first is refused (422 ``several_faces``)."""
    return service.matching.verify(who, subject, deployment, read_image(service, image),
                                   attributes=attrs(attributes), transaction=transaction,
                                   choice=choice)


@router.post("/v1/identify", response_model=IdentifyOut)
def identify(who: Who, service: Service, deployment: Annotated[str, Form()],
             image: Annotated[UploadFile, File()],
             top: Annotated[int, Form(ge=1, le=100)] = 5,
             attributes: Annotated[str | None, Form()] = None,
             transaction: Annotated[str | None, Form(max_length=TRANSACTION_MAX)] = None,
             choice: Annotated[Literal["face"] | None, Form()] = None) -> dict[str, Any]:
    """1:N over the templates consented for this deployment, for each face of the image;
    none below the threshold."""
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
