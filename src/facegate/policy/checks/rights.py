"""Rights (RULES.md): ``rights.access``, ``rights.delete``."""

from __future__ import annotations

from facegate.policy.checks.registry import check, ok, refuse
from facegate.policy.decision import Finding
from facegate.policy.facts import Facts
from facegate.policy.packs import Pack


@check("rights.access", "rights.access")
def rights_access(f: Facts, p: Pack) -> list[Finding]:
    """An access request is answered only for a verified requester."""
    return _requester("rights.access", f, "查阅")


@check("rights.delete", "rights.delete")
def rights_delete(f: Facts, p: Pack) -> list[Finding]:
    """A deletion request is carried out only for a verified requester."""
    return _requester("rights.delete", f, "删除")


def _requester(rule: str, f: Facts, verb_zh: str) -> list[Finding]:
    if not f.requester_verified:
        return [refuse(rule, "the requester's identity was not verified (requester_verified): "
                       "face data is disclosed or deleted only for the person it belongs to",
                       f"未核实请求人身份，不得{verb_zh}人脸信息")]
    return [ok(rule, "the requester's identity was verified", "已核实请求人身份")]
