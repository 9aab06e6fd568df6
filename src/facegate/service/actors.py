"""Who acts on the service: an API key's holder, a CLI user or the public pages, with the role
that ``security.controls`` decides on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict


class ActorFacts(TypedDict):
    """What the gate's ``Facts`` hold about who acts."""

    actor_role: str | None
    actor_deployment: str | None
    actor_device: str | None


ROLES = ("operator", "officer", "auditor", "admin", "device")


@dataclass(frozen=True)
class Actor:
    """Who acts: an API key's name or a CLI user, and the role that decides what they may do.
    A device key (a kiosk) also names the deployment and the registered device it belongs to:
    it acts there only (``security.controls``)."""

    name: str
    role: str
    deployment: str | None = None
    device: str | None = None

    def at(self, transaction: str | None) -> dict[str, str]:
        """A match's transaction and device, where there are any (for the audit trail)."""
        return {k: v for k, v in (("transaction", transaction), ("device", self.device)) if v}

    def facts(self) -> ActorFacts:
        """The gate's facts about the actor (``Facts.actor_*``)."""
        return ActorFacts(actor_role=self.role, actor_deployment=self.deployment,
                          actor_device=self.device)


# No actor (a check run for nobody in particular): the role checks do not apply.
NOBODY = ActorFacts(actor_role=None, actor_deployment=None, actor_device=None)
