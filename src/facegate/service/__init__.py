"""Use cases: the only layer that calls the policy gate. ``Facegate`` composes them for the
interfaces; each lives in the module named for what a user does."""

from facegate.service.actors import ROLES, Actor
from facegate.service.config import Settings
from facegate.service.facade import Facegate

__all__ = ["ROLES", "Actor", "Facegate", "Settings"]
