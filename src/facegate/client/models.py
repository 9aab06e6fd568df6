"""What the service answers, as typed dictionaries: the gate's decision, deployments, subjects,
consents and faces (``models_ops`` has the rest). They are the JSON bodies as sent, so a field
the service adds later is there too, unchecked; the names and types follow the service's
OpenAPI document (``/openapi.json``)."""


from typing import Any, NotRequired, TypedDict

# ---- shared -----------------------------------------------------------------------------------


class Bilingual(TypedDict):
    en: str
    zh: str


class Finding(TypedDict):
    """One rule's finding; a warning also has ``warning``, a failed rule with a remedy has
    ``remedy`` (``en``, ``zh``)."""

    rule: str
    passed: bool
    reason: Bilingual
    warning: NotRequired[bool]
    remedy: NotRequired[Bilingual]


class Decision(TypedDict):
    """The gate's decision on an operation, rule by rule."""

    operation: str
    pack: str
    allowed: bool
    rules: list[str]
    refused_by: list[str]
    warnings: list[str]
    findings: list[Finding]


class Consent(TypedDict):
    id: str
    subject: str
    deployment: str
    purpose: str
    notice_version: int
    method: str
    storage_location: str
    guardian_ref: str | None
    guardian_relationship: str | None
    granted_at: str
    granted_by: str
    withdrawn_at: str | None
    active: bool


class Template(TypedDict):
    """A template's metadata; never its values."""

    id: str
    deployment: str
    engine: str
    model_version: str
    created_at: str
    expires_at: str
    quality: dict[str, Any]


class Deleted(TypedDict):
    """What a deletion removed; a subject's deletion also says ``identity_deleted``."""

    templates: list[str]
    index_entries: int
    consents_withdrawn: int
    key_destroyed: bool
    identity_deleted: NotRequired[bool]


class DeletionReceipt(TypedDict):
    """A deletion receipt with its own digest (``sha256``)."""

    operation: str
    subject: str
    at: str
    deleted: Deleted
    deployments: list[str]
    rules: list[str]
    rule_pack: str
    sha256: str


class Alternative(TypedDict):
    method: str | None
    description: str | None


# ---- deployments ------------------------------------------------------------------------------


class AssessmentState(TypedDict):
    version: int
    stale: bool
    stale_reason: str | None


class DeploymentApplied(TypedDict):
    id: str
    status: str
    created: bool
    pack: str
    notice_version: int
    changed: list[str]
    assessment: AssessmentState | None
    decision: Decision


class Deployment(TypedDict):
    id: str
    name: str | None
    purpose: str
    mode: str
    rule_pack: str
    status: str
    notice_version: int
    engine: str | None
    migrating_to: str | None
    updated_at: str


class DeploymentDetail(Deployment):
    manifest: dict[str, Any]


class Ended(TypedDict):
    templates: int
    subjects: int
    consents_closed: int


class TerminationReceipt(TypedDict):
    operation: str
    deployment: str
    at: str
    deleted: Ended
    rules: list[str]
    sha256: str


class Notice(TypedDict):
    """A notice version as people read it. Notices are kept as they were made: what later
    versions added is absent from older ones."""

    version: int
    digest: str
    deployment: NotRequired[str | None]
    name: NotRequired[str | dict[str, str] | None]
    operator: NotRequired[dict[str, Any] | None]
    purpose: NotRequired[str | None]
    necessity: NotRequired[str | dict[str, str] | None]
    least_impact: NotRequired[str | dict[str, str] | None]
    method: NotRequired[str | None]
    retention_days: NotRequired[int | None]
    capture_area: NotRequired[str | dict[str, str] | None]
    alternative: NotRequired[dict[str, Any] | None]
    rights: NotRequired[dict[str, Any] | None]
    images_kept: NotRequired[bool | None]


# ---- subjects and consents --------------------------------------------------------------------


class SubjectCreated(TypedDict):
    id: str
    created_at: str


class SubjectListed(TypedDict):
    """A subject in a list: its pseudonym, never its identity data."""

    id: str
    created_at: str


class Subject(TypedDict):
    """What is held about a subject: consents and template metadata, never values."""

    id: str
    ref: str
    birth_date: str | None
    created_at: str
    consents: list[Consent]
    templates: list[Template]


class ConsentGranted(Consent):
    decision: Decision


class Declined(TypedDict):
    deployment: str
    recorded: bool
    alternative: Alternative | None
    message: str


# ---- faces ------------------------------------------------------------------------------------


class Quality(TypedDict):
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


class Candidate(TypedDict):
    """A subject the face matched; while a deployment moves to another engine, ``engine``
    says which gallery it was found in."""

    subject: str
    score: float
    engine: NotRequired[str]


class Box(TypedDict):
    """A face's box in the upload's own pixels; ``right`` and ``bottom`` exclusive."""

    left: int
    top: int
    right: int
    bottom: int


class EnrolledTemplate(TypedDict):
    id: str
    image: int
    quality: Quality


class RejectedImage(TypedDict):
    """An image that yielded no template, and why; a quality refusal also lists ``issues``."""

    image: int
    error: str
    message: str
    issues: NotRequired[list[str]]


class Enrolment(TypedDict):
    subject: str
    deployment: str
    templates: list[EnrolledTemplate]
    rejected: list[RejectedImage]
    possible_duplicates: list[Candidate]
    engine: str
    model_version: str
    expires_at: str
    decision: Decision


class BatchItemError(TypedDict):
    """Why a subject of a batch was not enrolled; details of the error besides."""

    error: str
    message: str
    rules: list[str]


class BatchItem(TypedDict):
    subject: str
    enrolled: bool
    result: Enrolment | None
    error: BatchItemError | None


class BatchEnrolment(TypedDict):
    """Each subject of a batch, in the order it first appears; one failing subject leaves
    the others enrolled."""

    deployment: str
    items: list[BatchItem]
    enrolled: int
    failed: int


class Verification(TypedDict):
    subject: str
    deployment: str
    match: bool
    approved: bool
    manual_review_required: bool
    warnings: list[Finding]
    score: float
    threshold: float
    fmr_target: float
    faces_detected: int
    engine: str
    migration: dict[str, Any] | None
    decision: Decision


class Gallery(TypedDict):
    engine: str
    threshold: float
    fmr_target: float
    gallery: int


class IdentifiedFace(TypedDict):
    box: Box
    candidates: list[Candidate]


class Identification(TypedDict):
    deployment: str
    candidates: list[Candidate]
    faces: list[IdentifiedFace]
    threshold: float
    fmr_target: float
    gallery: int
    expected_false_matches: float
    faces_detected: int
    engine: str
    engines: list[Gallery]
    decision: Decision


class DetectedFace(TypedDict):
    box: Box
    quality: Quality


class Detection(TypedDict):
    width: int
    height: int
    faces: list[DetectedFace]
