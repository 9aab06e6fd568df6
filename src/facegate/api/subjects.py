"""Subjects: a pseudonymous subject under an external reference, what is held about one
(``rights.access``; never template values), and deleting everything about one."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from facegate.api.deps import Service, Who
from facegate.api.paging import KNOWN_QUERY, PAGED, Paging, paginate
from facegate.api.schemas import ConsentOut, DeletionReceipt, TemplateOut

router = APIRouter(tags=["subjects"], dependencies=KNOWN_QUERY)


class SubjectIn(BaseModel):
    ref: str = Field(min_length=1, max_length=200, description="External reference.")
    birth_date: date | None = Field(default=None, description="Decides guardian consent.")


class SubjectCreated(BaseModel):
    id: str
    created_at: str


class SubjectListed(BaseModel):
    """A subject in a list: its pseudonym, never its identity data."""

    id: str
    created_at: str


class SubjectOut(BaseModel):
    id: str
    ref: str
    birth_date: str | None
    created_at: str
    consents: list[ConsentOut]
    templates: list[TemplateOut]


@router.post("/v1/subjects", status_code=201, response_model=SubjectCreated)
def add_subject(who: Who, service: Service, body: SubjectIn) -> dict[str, Any]:
    return service.subjects.add(who, body.ref, body.birth_date)


@router.get("/v1/subjects", response_model=list[SubjectListed], responses=PAGED)
def list_subjects(who: Who, service: Service, page: Paging, response: Response,
                  reference: Annotated[str | None, Query(
                      min_length=1, max_length=200,
                      description="An external reference: the subject that has it (an empty "
                                  "list when none has).")] = None) -> list[dict[str, Any]]:
    """The subjects held, by id, paginated; or the one with an external reference. Only
    pseudonyms: ``GET /v1/subjects/{id}`` shows what is held about one. Both are audited."""
    after = page.after("subjects")
    rows = service.subjects.listed(who, page.limit + 1, str(after[0]) if after else None,
                                   reference)
    return paginate(rows, lambda r: (str(r["id"]),), page, response, "subjects")


@router.get("/v1/subjects/{subject_id}", response_model=SubjectOut)
def show_subject(who: Who, service: Service, subject_id: str) -> dict[str, Any]:
    """What is held about a subject: consents and template metadata, never values."""
    return service.subjects.show(who, subject_id)


@router.delete("/v1/subjects/{subject_id}", response_model=DeletionReceipt)
def delete_subject(who: Who, service: Service, subject_id: str) -> dict[str, Any]:
    """Delete templates, index entries, key and identity; returns a deletion receipt."""
    return service.subjects.delete(who, subject_id)
