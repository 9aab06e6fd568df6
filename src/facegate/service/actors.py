"""Who acts on the service: an API key's holder, a CLI user or the public pages, with the role
that ``security.controls`` decides on."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("operator", "officer", "auditor", "admin")


@dataclass(frozen=True)
class Actor:
    """Who acts: an API key's name or a CLI user, and the role that decides what they may do."""

    name: str
    role: str
