"""Response shapes that several resources return: the gate's decision, consents, template
metadata, deletion receipts. Each resource's own shapes sit beside its routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Bilingual(BaseModel):
    en: str
    zh: str


class Finding(BaseModel):
    """One rule's finding. A warning carries ``"warning": true``; a failed rule with a remedy
    carries ``remedy`` (``en``, ``zh``)."""

    model_config = ConfigDict(extra="allow")

    rule: str
    passed: bool
    reason: Bilingual


class DecisionOut(BaseModel):
    """The gate's decision on an operation, rule by rule."""

    operation: str
    pack: str
    allowed: bool
    rules: list[str] = Field(description="Every rule that fired, in order, once each.")
    refused_by: list[str]
    warnings: list[str]
    findings: list[Finding]


class ConsentOut(BaseModel):
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


class TemplateOut(BaseModel):
    """A template's metadata; never its values."""

    id: str
    deployment: str
    engine: str
    model_version: str
    created_at: str
    expires_at: str
    quality: dict[str, Any] = Field(description="The image's quality when it was enrolled.")


class Deleted(BaseModel):
    """What a deletion removed. A subject's deletion also says ``identity_deleted``."""

    model_config = ConfigDict(extra="allow")

    templates: list[str] = Field(description="Ids of the deleted templates.")
    index_entries: int
    consents_withdrawn: int
    key_destroyed: bool


class DeletionReceipt(BaseModel):
    """A deletion receipt (``consent.withdraw``, ``rights.delete``) with its own digest."""

    operation: str
    subject: str
    at: str
    deleted: Deleted
    deployments: list[str]
    rules: list[str]
    rule_pack: str
    sha256: str


class Alternative(BaseModel):
    method: str | None
    description: str | None
