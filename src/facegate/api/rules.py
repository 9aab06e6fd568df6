"""The rule catalogue the gate decides by: every rule, or one pack's, with its sources."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from facegate.api.deps import Who
from facegate.api.paging import KNOWN_QUERY
from facegate.api.schemas import Bilingual
from facegate.errors import BadInput
from facegate.policy.catalogue import rules_catalogue
from facegate.policy.packs import PACKS

router = APIRouter(tags=["rules"], dependencies=KNOWN_QUERY)


class RuleOut(BaseModel):
    id: str
    title: Bilingual
    packs: list[str] = Field(description="The rule packs that have this rule.")
    sources: dict[str, str] = Field(description="Per pack, the article the rule comes from.")
    advisory: bool


@router.get("/v1/rules", response_model=list[RuleOut])
def list_rules(who: Who, pack: str | None = None) -> list[dict[str, Any]]:
    """The rule catalogue, or one pack's rules (an unknown or empty pack is 422)."""
    if pack is not None and pack not in PACKS:
        raise BadInput(f"unknown rule pack {pack!r}; known: {', '.join(PACKS)}")
    return rules_catalogue(pack)
