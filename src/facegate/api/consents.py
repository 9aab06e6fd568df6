"""Consents and the person's choices: a separate consent recorded after the notice, the
consents held, withdrawal (the templates are gone before it returns), and the choice of the
alternative, recorded where face recognition was offered (``coercion.prohibited``)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from facegate.api.deps import Service, Who
from facegate.api.paging import KNOWN_QUERY, PAGED, Paging, paginate_in_order
from facegate.api.schemas import Alternative, ConsentOut, DecisionOut, DeletionReceipt
from facegate.service.limits import ID_MAX, REF_MAX, RELATIONSHIP_MAX, TRANSACTION_MAX

router = APIRouter(dependencies=KNOWN_QUERY)


class ConsentIn(BaseModel):
    subject: str = Field(max_length=ID_MAX)
    deployment: str = Field(max_length=ID_MAX)
    purpose: str = Field(max_length=ID_MAX)
    method: Literal["electronic", "written"] = "electronic"
    guardian_ref: str | None = Field(default=None, max_length=REF_MAX)
    guardian_relationship: str | None = Field(default=None, max_length=RELATIONSHIP_MAX)
    notice_version: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                       description="Default: the current one.")


class WithdrawIn(BaseModel):
    subject: str = Field(max_length=ID_MAX)
    deployment: str | None = Field(default=None, max_length=ID_MAX,
                                   description="Omit to withdraw everywhere.")


class DeclineIn(BaseModel):
    deployment: str = Field(max_length=ID_MAX)
    subject: str | None = Field(default=None, max_length=ID_MAX)
    transaction: str | None = Field(default=None, max_length=TRANSACTION_MAX,
                                    description="Not prompted again in it.")


class ConsentGranted(ConsentOut):
    decision: DecisionOut


class Declined(BaseModel):
    deployment: str
    recorded: bool
    alternative: Alternative | None = Field(description="The deployment's alternative.")
    message: str


@router.post("/v1/consents", status_code=201, tags=["consents"],
             response_model=ConsentGranted)
def grant_consent(who: Who, service: Service, body: ConsentIn) -> dict[str, Any]:
    return service.consents.grant(who, body.subject, body.deployment, body.purpose,
                                  body.method, body.guardian_ref,
                                  body.guardian_relationship, body.notice_version)


@router.post("/v1/consents/withdraw", tags=["consents"], response_model=DeletionReceipt)
def withdraw_consent(who: Who, service: Service, body: WithdrawIn) -> dict[str, Any]:
    """Withdraw: templates and index entries are gone before this returns."""
    return service.consents.withdraw(who, body.subject, body.deployment)


@router.get("/v1/consents", tags=["consents"], response_model=list[ConsentOut],
            responses=PAGED)
def list_consents(who: Who, service: Service, page: Paging, response: Response,
                  subject: str | None = None,
                  deployment: str | None = None) -> list[dict[str, Any]]:
    """Consents, oldest first, of a subject and/or at a deployment; paginated."""
    return paginate_in_order(service.consents.all(who, subject, deployment),
                             lambda c: str(c["id"]), page, response, "consents")


@router.post("/v1/decline", tags=["faces"], response_model=Declined)
def decline(who: Who, service: Service, body: DeclineIn) -> dict[str, Any]:
    """The person chose the alternative: recorded, never penalised."""
    return service.consents.decline(who, body.deployment, body.subject, body.transaction)
