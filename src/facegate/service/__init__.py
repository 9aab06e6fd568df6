"""Use cases: the only layer that calls the policy gate."""

from facegate.service.base import ROLES, Actor
from facegate.service.config import Settings
from facegate.service.core import Facegate

__all__ = ["ROLES", "Actor", "Facegate", "Settings"]
