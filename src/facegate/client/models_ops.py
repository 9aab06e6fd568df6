"""What the service answers, as typed dictionaries: assessments, the filing duty, reviews, the
person's requests, engines, the audit trail, keys, rules, liveness and readiness (``models``
has the rest)."""


from typing import Any, NotRequired, TypedDict

from facegate.client.models import Bilingual, Consent, Decision, DeletionReceipt, Template

# ---- assessments, filing, housekeeping, reviews -----------------------------------------------


class Assessment(TypedDict):
    deployment: str
    version: int
    purpose: str
    mode: str
    assessor: str
    assessed_on: str
    keep_until: str
    sections: dict[str, str | dict[str, str]]
    conclusion: str | dict[str, str]
    stale: bool
    stale_reason: str | None


class AssessmentDeleted(TypedDict):
    deployment: str
    version: int
    deleted: bool


class Incident(TypedDict):
    deployment: str
    assessment: int
    stale: bool


class FilingTask(TypedDict):
    kind: str
    rule: str
    started_on: str
    due_on: str | None
    due_provisional: bool
    missing_years: list[int]
    filed_on: str | None
    detail: str
    overdue: bool
    working_days_left: int | None


class FilingWarning(TypedDict):
    level: str
    rule: str
    en: str
    zh: str


class FilingStatus(TypedDict):
    """One operator's filing duty."""

    operator: str
    names: list[str]
    deployments: list[str]
    pack: str
    persons: int
    threshold: int
    inclusive: bool
    authority: str
    required: bool
    reasons: list[str]
    crossed_on: str | None
    as_of: str
    tasks: list[FilingTask]
    warnings: list[FilingWarning]
    what_to_file: list[str]
    working_days: int


class FilingOverview(TypedDict):
    operators: list[FilingStatus]


class Housekeeping(TypedDict):
    at: str
    expired_templates: int
    subjects: int
    deployments: list[str]
    index_log_pruned: int
    filing_warnings: list[FilingWarning]


class Review(TypedDict):
    deployment: str
    transaction: str
    staff: str | None
    outcome: str | None
    approved: bool
    decision: Decision


# ---- the person's requests --------------------------------------------------------------------


class HeldAt(TypedDict):
    id: str
    name: str | None
    purpose: str
    mode: str
    operator: dict[str, Any] | None


class Access(TypedDict):
    subject: str
    decision: Decision
    deployments: list[HeldAt]
    consents: list[Consent]
    templates: list[Template]
    images_kept: int
    how_to_delete: str


class RightsDeletion(DeletionReceipt):
    request: str


class ExportedTemplate(TypedDict):
    id: str
    deployment: str
    engine: str
    model_version: str
    expires_at: str
    vector: list[float]


class Export(TypedDict):
    subject: str
    basis: str | None
    templates: list[ExportedTemplate]
    decision: Decision


# ---- engines ----------------------------------------------------------------------------------


class Progress(TypedDict):
    subjects_moved: int
    subjects_left: int
    share: float


class DeploymentEngine(TypedDict):
    deployment: str
    engine: str
    migrating_to: str | None
    templates: dict[str, int]
    progress: NotRequired[Progress | None]


class Stale(TypedDict):
    subject: str
    deployment: str
    engine: str
    templates: int


class EngineStatus(TypedDict):
    engine: str
    threshold: float
    templates_current: int
    deployments: list[DeploymentEngine]
    needs_reenrolment: list[Stale]


# ``from`` is a keyword: the functional form.
MigrationStarted = TypedDict("MigrationStarted", {
    "deployment": str, "engine": str | None, "from": str, "migrating_to": str | None,
    "remaining": int, "switched": bool})


class Rekeyed(TypedDict):
    deployment: str
    epoch: int
    previous_epoch: int


# ---- the audit trail --------------------------------------------------------------------------


class AuditRecord(TypedDict):
    """One record of the trail; never an image, never a template."""

    seq: int
    at: str
    actor: str
    role: str
    operation: str
    subject: str | None
    deployment: str | None
    purpose: str | None
    decision: str
    rules: list[str]
    detail: dict[str, Any]
    prev_hash: str
    hash: str
    sig: str | None


class ChainReport(TypedDict):
    ok: bool
    count: int
    first_broken: int | None
    reason: str
    head_hash: str


class Checkpoint(TypedDict):
    """A signed tree head over the first ``size`` records of the trail."""

    format: str
    size: int
    root: str
    at: str
    public_key: str
    key_id: str
    signature: str


class InclusionProof(TypedDict):
    seq: int
    hash: str
    size: int
    root: str
    proof: list[str]


# ---- keys, rules, liveness --------------------------------------------------------------------


class KeyCreated(TypedDict):
    """A new key; ``key`` is its value, shown only in this answer."""

    id: str
    name: str
    role: str
    key: str
    deployment: str | None
    device: str | None


class Key(TypedDict):
    """A key as it is listed: never its value or its digest. A device key names its
    deployment and device and when it was last used (to the minute)."""

    id: str
    name: str
    role: str
    created_at: str
    revoked: bool
    revoked_at: str | None
    deployment: str | None
    device: str | None
    last_used_at: str | None


class KeyRevoked(TypedDict):
    id: str
    revoked: bool
    revoked_at: str


class WhoAmI(TypedDict):
    name: str
    role: str
    deployment: str | None
    device: str | None


class Rule(TypedDict):
    id: str
    title: Bilingual
    packs: list[str]
    sources: dict[str, str]
    advisory: bool


class Live(TypedDict):
    status: str
    version: str


class LoadedIndex(TypedDict):
    deployment: str
    engine: str
    templates: int
    backend: str
    seconds: float
    ivf_serving: bool | None


class IndexRefusal(TypedDict):
    deployment: str
    rules: list[str]


class Ready(TypedDict):
    ready: bool
    store: bool
    phase: str
    seconds: float | None
    loaded: list[LoadedIndex]
    refused: list[IndexRefusal]
    error: str | None
