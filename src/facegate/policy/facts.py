"""Facts the gate decides on. Plain data: the service layer gathers them, the gate reads them.

``Manifest`` is also the deployment manifest format (``examples/office-door.yaml``): its field
names are a contract with users. Fields are optional where a rule, not the parser, must say what
is missing, so that a refusal names the rule id. The texts a person reads are ``Said``: a plain
string or ``{zh: ..., en: ...}`` (:mod:`facegate.policy.texts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from facegate.policy.texts import Said


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Operator(_Strict):
    name: Said = None
    contact: Said = None


class Location(_Strict):
    type: str | None = None
    venue: str | None = None
    public_place: bool = False
    capture_area: Said = None
    signage: str | None = None
    public_security_necessity: Said = None


class Alternative(_Strict):
    method: str | None = None
    description: Said = None


class Accessibility(_Strict):
    """How people with disabilities and elderly people use the notice and the alternative
    (``notice.accessible``)."""

    notice: str | None = None
    alternative: str | None = None


class Device(_Strict):
    """A capture device: its own capture area (``place.capture-area``) and its last security
    test (``devices.annual-test``)."""

    id: str = Field(min_length=1, max_length=64)
    capture_area: str | None = None
    security_tested_on: date | None = None


class RemoteScope(_Strict):
    """Limits of remote identification without the person's awareness
    (``remote-id.restricted``)."""

    basis: str | None = None  # closed list: national_security, public_safety, emergency
    until: date | None = None
    area: str | None = None
    people: str | None = None


class Manifest(_Strict):
    """A deployment: one use of face recognition, at one place, by one operator."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    name: Said = None
    rule_pack: str | None = None
    operator: Operator = Operator()
    purpose: str | None = None
    necessity: Said = None
    least_impact: Said = None
    mode: str = "verify"
    location: Location = Location()
    alternative: Alternative | None = None
    retention_days: int | None = Field(default=None, ge=1, le=36500)
    transactions: list[str] = Field(default_factory=list)
    remote_identification: bool = False
    legal_basis: str | None = None
    # Added by the full rule catalogue; all optional so the reference manifest stays valid.
    nonbiometric_sufficient: bool = False  # a non-biometric method would meet the same need
    face_reason: str | None = None  # why faces anyway (``nonbiometric.preferred``)
    national_identity_service: bool = False  # ``national-channel.encouraged`` (advisory)
    accessibility: Accessibility | None = None
    devices: list[Device] = Field(default_factory=list)
    remote_identification_scope: RemoteScope | None = None
    minors_rules: str | None = None  # reference of the operator's rules for minors
    fmr_target: float | None = Field(default=None, gt=0, lt=1)  # stricter matching here
    # The 1:N index backend of this deployment, over the installation's (FACEGATE_INDEX).
    index: Literal["exact", "ivf", "milvus"] | None = None


@dataclass(frozen=True)
class SubjectFacts:
    id: str
    birth_date: date | None = None


@dataclass(frozen=True)
class ConsentFacts:
    """A consent record, found in the store or about to be recorded."""

    subject_id: str
    deployment_id: str
    purpose: str
    notice_version: int | None
    method: str
    guardian_ref: str | None = None
    guardian_relationship: str | None = None
    withdrawn: bool = False
    id: str | None = None


@dataclass(frozen=True)
class AssessmentFacts:
    """The deployment's impact assessment (``pia.before-use``)."""

    version: int
    assessed_on: date
    keep_until: date
    stale: bool = False
    stale_reason: str | None = None


@dataclass(frozen=True)
class ManualCheck:
    """A named staff member's manual identity check (``major-interest.manual-review``)."""

    staff: str | None
    outcome: str | None  # confirmed | rejected


@dataclass(frozen=True)
class Facts:
    """Everything one decision may look at. ``on`` is the day of processing."""

    operation: str
    pack: str
    on: date
    actor_role: str | None = None
    deployment: Manifest | None = None
    deployment_active: bool = True
    subject: SubjectFacts | None = None
    consent: ConsentFacts | None = None
    purpose: str | None = None
    current_notice_version: int | None = None
    requested_attributes: tuple[str, ...] = ()
    deployment_terminated: bool = False
    assessment: AssessmentFacts | None = None
    # per transaction (coercion.prohibited, major-interest.manual-review)
    transaction: str | None = None
    choice: str | None = None  # the person's explicit choice for this transaction: "face"
    declined_in_transaction: bool = False
    manual_check: ManualCheck | None = None
    # enrolment and use of templates
    source: str = "live"  # live | research | training (scope.rnd-excluded)
    keep_image: bool = False  # images.no-retention
    template_expires_on: date | None = None  # retention.minimum
    overdue_filings: tuple[str, ...] = ()  # kinds of overdue filing tasks: filing, change
    # exports (storage.on-device, storage.separate-identity)
    export_basis: str | None = None
    export_with_identity: bool = False
    # rights requests (rights.access, rights.delete)
    requester_verified: bool = False
    # API keys (security.controls): the role of the key created or revoked
    key_role: str | None = None
    # A device key's deployment and registered device (security.controls); the deployment an
    # operation names where no manifest is at hand (a role-only decision)
    actor_deployment: str | None = None
    actor_device: str | None = None
    deployment_id: str | None = None
