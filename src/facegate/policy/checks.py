"""The checks: one function per rule and operation family, registered by rule id.

Each check reads ``Facts`` and the pack's parameters and returns findings; none does I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from facegate.policy.decision import Finding
from facegate.policy.facts import Facts
from facegate.policy.packs import Pack

Check = Callable[[Facts, Pack], list[Finding]]

# rule id -> [(operations, check)]
REGISTRY: list[tuple[str, frozenset[str], Check]] = []

# Operations that use a stored template and so need a live consent for it.
USES_TEMPLATE = frozenset({"enrol", "verify", "identify.match"})
ALL_OPERATIONS = frozenset({
    "deployment.apply", "deployment.read", "subject.add", "subject.read", "subject.delete",
    "consent.grant", "consent.withdraw", "consent.read", "enrol", "verify", "identify",
    "identify.match", "decline", "detect", "audit.read", "audit.verify", "key.manage",
    "attributes",
})

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "operator": frozenset({"enrol", "verify", "identify", "identify.match", "decline", "detect",
                           "deployment.read"}),
    "officer": frozenset({"deployment.apply", "deployment.read", "subject.add", "subject.read",
                          "subject.delete", "consent.grant", "consent.withdraw", "consent.read",
                          "audit.read", "audit.verify", "decline"}),
    "auditor": frozenset({"audit.read", "audit.verify"}),
    "admin": ALL_OPERATIONS,
}


def check(rule_id: str, *operations: str) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        REGISTRY.append((rule_id, frozenset(operations), fn))
        return fn
    return register


def ok(rule: str, en: str, zh: str = "") -> Finding:
    return Finding(rule, True, en, zh)


def refuse(rule: str, en: str, zh: str = "", status: int = 403) -> Finding:
    return Finding(rule, False, en, zh, status)


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def age_on(birth: date, on: date, day_after: bool = False) -> int:
    """Completed years on day ``on``; a 29 February birthday falls on 1 March in common years."""
    years = on.year - birth.year
    try:
        birthday = birth.replace(year=on.year)
    except ValueError:  # 29 February in a common year
        birthday = date(on.year, 3, 1)
    if on < birthday or (day_after and on == birthday):
        years -= 1
    return years


# ---- security.controls: roles --------------------------------------------------------------

@check("security.controls", *ALL_OPERATIONS)
def role_may(f: Facts, p: Pack) -> list[Finding]:
    if f.actor_role is None:
        return []
    allowed = ROLE_PERMISSIONS.get(f.actor_role, frozenset())
    if f.operation in allowed:
        return []
    return [refuse("security.controls",
                   f"the {f.actor_role!r} role may not perform {f.operation!r}",
                   f"角色“{f.actor_role}”无权执行“{f.operation}”")]


# ---- deployments ---------------------------------------------------------------------------

@check("purpose.declared", "deployment.apply")
def purpose_declared(f: Facts, p: Pack) -> list[Finding]:
    m = f.deployment
    if m is None:
        return [refuse("purpose.declared", "no deployment given", "未提供部署", 422)]
    out: list[Finding] = []
    if _blank(m.purpose):
        out.append(refuse("purpose.declared", "the deployment names no purpose",
                          "部署未声明目的", 422))
    elif m.purpose not in p.params["purposes"]:
        out.append(refuse("purpose.declared",
                          f"purpose {m.purpose!r} is not in the closed list: "
                          + ", ".join(p.params["purposes"]),
                          f"目的“{m.purpose}”不在封闭列表中"))
    if _blank(m.necessity):
        out.append(refuse("purpose.declared", "the deployment has no necessity statement",
                          "部署缺少必要性说明", 422))
    if p.params["require_least_impact"] and _blank(m.least_impact):
        out.append(refuse("purpose.declared",
                          f"{p.name} requires a least-impact statement (least_impact)",
                          "须说明对个人权益影响最小的方式", 422))
    if m.mode not in p.params["modes"]:
        out.append(refuse("purpose.declared",
                          f"mode {m.mode!r} is neither 'verify' (1:1) nor 'identify' (1:N)",
                          "识别方式须为 verify（1:1）或 identify（1:N）", 422))
    if _blank(m.operator.name) or _blank(m.operator.contact):
        out.append(refuse("purpose.declared", "the operator's name and contact are required",
                          "须提供处理者名称和联系方式", 422))
    if m.retention_days is None:
        out.append(refuse("purpose.declared", "the deployment states no retention period "
                          "(retention_days)", "部署未说明保存期限", 422))
    if not out:
        out.append(ok("purpose.declared", f"purpose {m.purpose!r} with a necessity statement",
                      "已声明目的和必要性"))
    return out


@check("alternative.required", "deployment.apply")
def alternative_required(f: Facts, p: Pack) -> list[Finding]:
    m = f.deployment
    if m is None:
        return []
    alt = m.alternative
    if alt is not None and not _blank(alt.method) and not _blank(alt.description):
        return [ok("alternative.required", f"alternative offered: {alt.method}",
                   f"已提供替代方式：{alt.method}")]
    if not _blank(m.legal_basis):
        return [ok("alternative.required",
                   f"no alternative, face recognition mandated by {m.legal_basis}",
                   f"依据{m.legal_basis}，无替代方式")]
    return [refuse("alternative.required",
                   "the deployment names no non-biometric alternative (alternative.method and "
                   "alternative.description)", "部署未提供非生物特征替代方式")]


@check("place.private-space", "deployment.apply")
def place_private(f: Facts, p: Pack) -> list[Finding]:
    m = f.deployment
    if m is None:
        return []
    kinds = {k for k in (m.location.type, m.location.venue) if k}
    private = sorted(k for k in kinds if k in p.params["private_places"])
    if private:
        return [refuse("place.private-space",
                       f"capture in a private space ({', '.join(private)}) is never allowed",
                       "不得在私密场所安装人脸识别设备")]
    if m.location.type is None:
        return [refuse("place.private-space", "the deployment states no location type",
                       "部署未说明位置类型", 422)]
    if m.location.type not in p.params["location_types"]:
        return [refuse("place.private-space",
                       f"location type {m.location.type!r} is not in the closed list",
                       f"位置类型“{m.location.type}”不在封闭列表中", 422)]
    if m.location.venue is not None and m.location.venue not in p.params["venues"]:
        return [refuse("place.private-space",
                       f"venue {m.location.venue!r} is not in the closed list",
                       f"场所类型“{m.location.venue}”不在封闭列表中", 422)]
    return [ok("place.private-space", f"location {m.location.type!r} is not a private space",
               "非私密场所")]


@check("place.public-signage", "deployment.apply")
def place_public(f: Facts, p: Pack) -> list[Finding]:
    m = f.deployment
    if m is None or not m.location.public_place:
        return []
    loc = m.location
    missing = []
    if m.purpose != "public_security" and _blank(loc.public_security_necessity):
        missing.append("the public-security necessity (purpose public_security or "
                       "location.public_security_necessity)")
    if _blank(loc.capture_area):
        missing.append("the capture area (location.capture_area)")
    if _blank(loc.signage):
        missing.append("evidence of prominent reminder signs (location.signage)")
    if missing:
        return [refuse("place.public-signage",
                       "a public-place deployment must state " + "; ".join(missing),
                       "公共场所部署须说明公共安全必要性、采集区域并提供提示标识证据")]
    return [ok("place.public-signage", "public place with necessity, capture area and signs",
               "公共场所：已说明必要性、采集区域和提示标识")]


# ---- consents and use of templates ---------------------------------------------------------

@check("consent.separate", "consent.grant", *USES_TEMPLATE)
def consent_separate(f: Facts, p: Pack) -> list[Finding]:
    c = f.consent
    if c is None or c.withdrawn:
        what = "was withdrawn" if c is not None else "is recorded"
        sid = f.subject.id if f.subject else "this subject"
        dep = f.deployment.id if f.deployment else "this deployment"
        return [refuse("consent.separate",
                       f"no consent {what} for {sid} at deployment {dep}",
                       "该个人未就该部署作出单独同意（或已撤回）")]
    if c.method not in p.params["consent_methods"]:
        return [refuse("consent.separate",
                       f"consent method {c.method!r} is not one of "
                       + ", ".join(p.params["consent_methods"]),
                       "同意方式须为电子或书面", 422)]
    return [ok("consent.separate", f"separate {c.method} consent recorded",
               "已记录单独同意")]


@check("purpose.bound", "consent.grant", *USES_TEMPLATE, "identify")
def purpose_bound(f: Facts, p: Pack) -> list[Finding]:
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
    if f.operation == "identify" and m.mode != "identify":
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


@check("consent.guardian-under-14", "consent.grant", *USES_TEMPLATE)
def guardian(f: Facts, p: Pack) -> list[Finding]:
    s, c = f.subject, f.consent
    if s is None or s.birth_date is None or c is None or c.withdrawn:
        return []
    limit = p.params["guardian_age"]
    age = age_on(s.birth_date, f.on, p.params["age_reached_day_after_birthday"])
    if age >= limit:
        return []
    if _blank(c.guardian_ref) or _blank(c.guardian_relationship):
        return [refuse("consent.guardian-under-14",
                       f"the subject is {age} on {f.on.isoformat()}, under {limit}: a guardian's "
                       "consent (guardian reference and relationship) is required",
                       f"该个人于{f.on.isoformat()}未满{limit}周岁，须取得监护人同意")]
    return [ok("consent.guardian-under-14",
               f"guardian consent recorded ({c.guardian_relationship})", "已记录监护人同意")]


@check("notice.required", "consent.grant")
def notice_shown(f: Facts, p: Pack) -> list[Finding]:
    c = f.consent
    if c is None:
        return []
    if f.current_notice_version is None:
        return [refuse("notice.required", "the deployment has no notice", "部署没有告知书")]
    if c.notice_version != f.current_notice_version:
        return [refuse("notice.required",
                       f"the consent names notice version {c.notice_version}, but the current "
                       f"notice is version {f.current_notice_version}",
                       "同意记录的告知书版本不是现行版本")]
    return [ok("notice.required", f"notice version {c.notice_version} shown",
               f"已告知（版本 {c.notice_version}）")]


# ---- what may be computed ------------------------------------------------------------------

@check("attributes.sensitive", *ALL_OPERATIONS)
def sensitive(f: Facts, p: Pack) -> list[Finding]:
    if not f.requested_attributes:
        return []
    listed = set(p.params["sensitive_attributes"])
    asked = [a.strip().lower() for a in f.requested_attributes]
    bad = sorted({a for a in asked if a in listed})
    if bad:
        return [refuse("attributes.sensitive",
                       f"analysis of sensitive attributes is not offered: {', '.join(bad)}",
                       "不得分析敏感个人特征：" + "、".join(bad))]
    unknown = sorted({a for a in asked if a not in listed})
    return [refuse("attributes.sensitive",
                   f"facegate computes no face attributes (asked: {', '.join(unknown)})",
                   "facegate 不计算人脸属性", 422)]
