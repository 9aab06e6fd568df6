"""Decisions that carry their reasons: allowed or not, and every rule that fired."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from facegate.policy.rules import get_rule


@dataclass(frozen=True)
class Finding:
    """One rule's verdict on one fact. ``status`` is the HTTP status a refusal maps to;
    ``warning`` flags a passing finding that needs attention (an overdue device test, a
    filing duty)."""

    rule: str
    passed: bool
    reason_en: str
    reason_zh: str = ""
    status: int = 403
    warning: bool = False

    def to_dict(self) -> dict[str, Any]:
        r = get_rule(self.rule)
        out: dict[str, Any] = {
            "rule": self.rule, "passed": self.passed,
            "reason": {"en": self.reason_en, "zh": self.reason_zh or r.title_zh},
        }
        if self.warning:
            out["warning"] = True
        if not self.passed and r.remedy_en:
            out["remedy"] = {"en": r.remedy_en, "zh": r.remedy_zh}
        return out


_PERMIT_TOKEN = object()


@dataclass(frozen=True)
class Permit:
    """Proof that the gate allowed ``operation`` for this subject and deployment.

    The store's template repository takes a permit for every read, write and delete, so no path
    reaches the template table without passing the gate. Only ``Decision.permit`` makes one.
    """

    operation: str
    subject_id: str | None
    deployment_id: str | None
    rules: tuple[str, ...]
    _token: object = field(repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self._token is not _PERMIT_TOKEN:
            raise TypeError("a Permit is issued only by an allowing gate decision")

    def require(self, *operations: str) -> None:
        if self.operation not in operations:
            raise PermissionError(
                f"a permit for {self.operation!r} does not cover {', '.join(operations)}")


@dataclass(frozen=True)
class Decision:
    operation: str
    pack: str
    findings: tuple[Finding, ...]
    subject_id: str | None = None
    deployment_id: str | None = None

    @property
    def allowed(self) -> bool:
        return all(f.passed for f in self.findings)

    @property
    def rules(self) -> list[str]:
        """Ids of every rule that fired, in order, once each."""
        return list(dict.fromkeys(f.rule for f in self.findings))

    @property
    def refused_by(self) -> list[str]:
        return list(dict.fromkeys(f.rule for f in self.findings if not f.passed))

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.passed and f.warning]

    @property
    def status(self) -> int:
        """403 for a refusal; 422 when every failure is a missing required field."""
        failed = [f for f in self.findings if not f.passed]
        if failed and all(f.status == 422 for f in failed):
            return 422
        return 403

    def message(self) -> str:
        return "; ".join(f"{f.rule}: {f.reason_en}" for f in self.findings if not f.passed)

    def permit(self) -> Permit:
        if not self.allowed:
            raise PermissionError(f"refused by {', '.join(self.refused_by)}")
        return Permit(self.operation, self.subject_id, self.deployment_id, tuple(self.rules),
                      _token=_PERMIT_TOKEN)

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "pack": self.pack,
            "allowed": self.allowed,
            "rules": self.rules,
            "refused_by": self.refused_by,
            "warnings": list(dict.fromkeys(f.rule for f in self.warnings)),
            "findings": [f.to_dict() for f in self.findings],
        }
