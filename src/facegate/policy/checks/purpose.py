"""Purpose and necessity (RULES.md): ``purpose.declared``, ``purpose.bound``,
``nonbiometric.preferred``, ``national-channel.encouraged``, ``scope.rnd-excluded``."""

from __future__ import annotations

from facegate.policy.checks.registry import USES_TEMPLATE, blank, check, ok, refuse, warn
from facegate.policy.decision import Finding
from facegate.policy.facts import Facts
from facegate.policy.packs import Pack


@check("purpose.declared", "deployment.apply")
def purpose_declared(f: Facts, p: Pack) -> list[Finding]:
    """A purpose from the closed list, a necessity statement, the operator's name and contact,
    a known mode; under cn-2025 also a least-impact statement."""
    m = f.deployment
    if m is None:
        return [refuse("purpose.declared", "no deployment given", "未提供部署", 422)]
    out: list[Finding] = []
    if blank(m.purpose):
        out.append(refuse("purpose.declared", "the deployment names no purpose",
                          "部署未声明目的", 422))
    elif m.purpose not in p.params["purposes"]:
        out.append(refuse("purpose.declared",
                          f"purpose {m.purpose!r} is not in the closed list: "
                          + ", ".join(p.params["purposes"]),
                          f"目的“{m.purpose}”不在封闭列表中"))
    if blank(m.necessity):
        out.append(refuse("purpose.declared", "the deployment has no necessity statement",
                          "部署缺少必要性说明", 422))
    if p.params["require_least_impact"] and blank(m.least_impact):
        out.append(refuse("purpose.declared",
                          f"{p.name} requires a least-impact statement (least_impact)",
                          "须说明对个人权益影响最小的方式", 422))
    if m.mode not in p.params["modes"]:
        out.append(refuse("purpose.declared",
                          f"mode {m.mode!r} is neither 'verify' (1:1) nor 'identify' (1:N)",
                          "识别方式须为 verify（1:1）或 identify（1:N）", 422))
    if blank(m.operator.name) or blank(m.operator.contact):
        out.append(refuse("purpose.declared", "the operator's name and contact are required",
                          "须提供处理者名称和联系方式", 422))
    if not out:
        out.append(ok("purpose.declared", f"purpose {m.purpose!r} with a necessity statement",
                      "已声明目的和必要性"))
    return out


@check("purpose.bound", "consent.grant", *USES_TEMPLATE, "identify", "index.load", "kiosk")
def purpose_bound(f: Facts, p: Pack) -> list[Finding]:
    """The deployment is active; the purpose and deployment are those the consent covers; 1:N
    only where declared."""
    m = f.deployment
    if m is None:
        return [refuse("purpose.bound", "the deployment is not registered", "部署未登记")]
    out: list[Finding] = []
    if not f.deployment_active:
        out.append(refuse("purpose.bound", f"deployment {m.id} is not active",
                          f"部署 {m.id} 未启用"))
    if f.purpose is not None and f.purpose != m.purpose:
        out.append(refuse("purpose.bound",
                          f"purpose {f.purpose!r} differs from the deployment's {m.purpose!r}",
                          "用途与部署声明的目的不一致"))
    if f.operation in ("identify", "index.load") and m.mode != "identify":
        out.append(refuse("purpose.bound",
                          f"deployment {m.id} is declared for 1:1 verification, not 1:N "
                          "identification", "该部署仅声明 1:1 核验，不得进行 1:N 识别"))
    c = f.consent
    if c is not None and not c.withdrawn and (c.deployment_id != m.id or c.purpose != m.purpose):
        out.append(refuse("purpose.bound",
                          f"the consent covers {c.purpose!r} at {c.deployment_id}, not "
                          f"{m.purpose!r} at {m.id}", "同意范围不包括该目的或部署"))
    if not out:
        out.append(ok("purpose.bound", f"used for {m.purpose!r} at {m.id} only",
                      "仅用于同意范围内的目的和部署"))
    return out


@check("nonbiometric.preferred", "deployment.apply")
def nonbiometric_preferred(f: Facts, p: Pack) -> list[Finding]:
    """Where a non-biometric method would meet the need, a recorded reason for using faces."""
    m = f.deployment
    if m is None or not m.nonbiometric_sufficient:
        return []
    if blank(m.face_reason):
        return [refuse("nonbiometric.preferred",
                       "a non-biometric method meets the same need (nonbiometric_sufficient); "
                       "record why faces are used anyway (face_reason)",
                       "非生物特征方式可满足需要，须说明使用人脸识别的理由")]
    return [ok("nonbiometric.preferred", f"reason for faces recorded: {m.face_reason}",
               "已记录使用人脸识别的理由")]


@check("national-channel.encouraged", "deployment.apply")
def national_channel(f: Facts, p: Pack) -> list[Finding]:
    """Advice for identity verification: the national identity authentication service."""
    m = f.deployment
    if m is None or m.purpose != "identity_verification":
        return []
    if m.national_identity_service:
        return [ok("national-channel.encouraged",
                   "uses the national identity authentication service",
                   "使用国家网络身份认证公共服务")]
    return [warn("national-channel.encouraged",
                 "advice: identity verification may use the national identity authentication "
                 "public service (national_identity_service)",
                 "建议：身份核验可使用国家网络身份认证公共服务")]


@check("scope.rnd-excluded", "enrol")
def rnd_excluded(f: Facts, p: Pack) -> list[Finding]:
    """Research or training data never enters an operational gallery."""
    if f.source in p.params["rnd_sources"]:
        return [refuse("scope.rnd-excluded",
                       f"face data held for {f.source} may not flow into an operational gallery",
                       "研发或算法训练数据不得流入业务人脸库")]
    return []
