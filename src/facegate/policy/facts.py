"""Facts the gate decides on. Plain data: the service layer gathers them, the gate reads them.

``Manifest`` is also the deployment manifest format (``examples/office-door.yaml``): its field
names are a contract with users. Fields are optional where a rule, not the parser, must say what
is missing, so that a refusal names the rule id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Operator(_Strict):
    name: str | None = None
    contact: str | None = None


class Location(_Strict):
    type: str | None = None
    venue: str | None = None
    public_place: bool = False
    capture_area: str | None = None
    signage: str | None = None
    public_security_necessity: str | None = None


class Alternative(_Strict):
    method: str | None = None
    description: str | None = None


class Manifest(_Strict):
    """A deployment: one use of face recognition, at one place, by one operator."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    name: str | None = None
    rule_pack: str | None = None
    operator: Operator = Operator()
    purpose: str | None = None
    necessity: str | None = None
    least_impact: str | None = None
    mode: str = "verify"
    location: Location = Location()
    alternative: Alternative | None = None
    retention_days: int | None = Field(default=None, ge=1, le=36500)
    transactions: list[str] = Field(default_factory=list)
    remote_identification: bool = False
    legal_basis: str | None = None


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
