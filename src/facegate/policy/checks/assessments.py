"""Assessments and filing (RULES.md): ``pia.before-use``, ``filing.threshold``,
``filing.change``, ``filing.deregister``."""

from __future__ import annotations

from facegate.policy.checks.registry import MATCHES, check, ok, refuse, warn
from facegate.policy.decision import Finding
from facegate.policy.facts import Facts
from facegate.policy.packs import Pack


@check("pia.before-use", "consent.grant", "enrol", "identify", *MATCHES, "pia.delete", "kiosk")
def pia(f: Facts, p: Pack) -> list[Finding]:
    """An impact assessment that is current (not stale) before use; kept at least three years."""
    a = f.assessment
    if f.operation == "pia.delete":
        if a is not None and a.keep_until > f.on:
            return [refuse("pia.before-use",
                           f"an impact assessment is kept for {p.params['pia_keep_years']} years, "
                           f"until {a.keep_until.isoformat()}", "影响评估报告须至少保存三年")]
        return []
    dep = f.deployment.id if f.deployment else "the deployment"
    if a is None:
        return [refuse("pia.before-use",
                       f"{dep} has no impact assessment: it cannot go live without one",
                       "部署上线前须完成个人信息保护影响评估")]
    if a.stale:
        return [refuse("pia.before-use",
                       f"the impact assessment of {dep} is stale ({a.stale_reason}); reassess "
                       "before use", "影响评估已失效（目的或方式变更），须重新评估")]
    return [ok("pia.before-use", f"impact assessment v{a.version} of "
               f"{a.assessed_on.isoformat()}", "已完成影响评估")]


@check("filing.threshold", "deployment.apply", "enrol")
def filing_threshold(f: Facts, p: Pack) -> list[Finding]:
    """Public-place filing duty flagged (draft); no new face data while the filing is overdue."""
    if f.operation == "deployment.apply":
        m = f.deployment
        if m is not None and m.location.public_place and p.params["filing_public_place"]:
            return [warn("filing.threshold",
                         f"a public-place deployment must be filed with the "
                         f"{p.params['filing_authority']} within "
                         f"{p.params['filing_working_days']} working days",
                         "公共场所部署须在30个工作日内向网信部门备案")]
        return []
    if "filing" in f.overdue_filings:
        return [refuse("filing.threshold",
                       "the filing with the cyberspace authority is overdue: no new face data "
                       "until it is filed (facegate filing record)",
                       "备案已逾期，备案前不得新增人脸信息")]
    return []


@check("filing.change", "enrol")
def filing_change(f: Facts, p: Pack) -> list[Finding]:
    """No new face data while a change filing is overdue."""
    if "change" in f.overdue_filings:
        return [refuse("filing.change", "a change filing is overdue: no new face data until "
                       "it is filed", "变更备案已逾期，备案前不得新增人脸信息")]
    return []


@check("filing.deregister", "consent.grant", "enrol", *MATCHES, "index.load")
def filing_deregister(f: Facts, p: Pack) -> list[Finding]:
    """Nothing is processed at a deployment that ended face recognition."""
    if f.deployment_terminated:
        dep = f.deployment.id if f.deployment else "the deployment"
        return [refuse("filing.deregister",
                       f"{dep} has ended face recognition: its face data is deleted and the "
                       "deregistration is filed; nothing may be processed there",
                       "已终止使用人脸识别，不得再处理人脸信息")]
    return []
