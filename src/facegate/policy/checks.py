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
# Operations that match a face and so are subject to the per-transaction rules.
MATCHES = frozenset({"verify", "identify"})
ALL_OPERATIONS = frozenset({
    "deployment.apply", "deployment.read", "deployment.terminate", "subject.add",
    "subject.read", "subject.delete", "consent.grant", "consent.withdraw", "consent.read",
    "enrol", "verify", "identify", "identify.match", "decline", "detect", "audit.read",
    "audit.verify", "key.manage", "attributes", "transaction.review", "export", "pia.record",
    "pia.read", "pia.delete", "rights.access", "rights.delete", "rights.read", "housekeeping",
    "filing.read", "filing.record", "documents", "engine.read", "rights.request",
})

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "operator": frozenset({"enrol", "verify", "identify", "identify.match", "decline", "detect",
                           "deployment.read", "transaction.review"}),
    "officer": frozenset({"deployment.apply", "deployment.read", "deployment.terminate",
                          "subject.add", "subject.read", "subject.delete", "consent.grant",
                          "consent.withdraw", "consent.read", "audit.read", "audit.verify",
                          "decline", "export", "pia.record", "pia.read", "pia.delete",
                          "rights.access", "rights.delete", "rights.read", "housekeeping",
                          "filing.read", "filing.record", "documents", "engine.read"}),
    "auditor": frozenset({"audit.read", "audit.verify", "pia.read", "filing.read",
                          "rights.read", "deployment.read"}),
    # The person, on the public rights page: no key; only their own request (proved by the
    # reference and birth date), never any other operation.
    "person": frozenset({"rights.request", "rights.access", "rights.delete",
                         "consent.withdraw", "subject.delete"}),
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


def warn(rule: str, en: str, zh: str = "") -> Finding:
    return Finding(rule, True, en, zh, warning=True)


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
    """The caller's role may perform the operation (operator, officer, auditor, admin)."""
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
    """A purpose from the closed list, a necessity statement, the operator's name and contact,
    a known mode; under cn-2025 also a least-impact statement."""
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
    if not out:
        out.append(ok("purpose.declared", f"purpose {m.purpose!r} with a necessity statement",
                      "已声明目的和必要性"))
    return out


@check("alternative.required", "deployment.apply")
def alternative_required(f: Facts, p: Pack) -> list[Finding]:
    """A non-biometric alternative (method and description), unless a cited law mandates face
    recognition."""
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
    """No capture in a private space (hotel room, bath, changing or fitting room, toilet...);
    location and venue from the closed lists."""
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
    """A public-place deployment states the public-security necessity, its capture area and
    evidence of reminder signs."""
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
    """A separate consent of this subject for this deployment (electronic or written), unless
    a legal basis applies."""
    c = f.consent
    if c is not None and c.withdrawn:
        return []  # consent.withdraw refuses
    if c is None:
        if f.deployment is not None and not _blank(f.deployment.legal_basis):
            return []  # consent.lawful-basis allows processing under the cited law
        sid = f.subject.id if f.subject else "this subject"
        dep = f.deployment.id if f.deployment else "this deployment"
        return [refuse("consent.separate",
                       f"no consent is recorded for {sid} at deployment {dep}",
                       "该个人未就该部署作出单独同意")]
    if c.method not in p.params["consent_methods"]:
        return [refuse("consent.separate",
                       f"consent method {c.method!r} is not one of "
                       + ", ".join(p.params["consent_methods"]),
                       "同意方式须为电子或书面", 422)]
    return [ok("consent.separate", f"separate {c.method} consent recorded",
               "已记录单独同意")]


@check("purpose.bound", "consent.grant", *USES_TEMPLATE, "identify")
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
    """Under 14 on the day of processing: a guardian's consent and the operator's rules for
    minors."""
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
    if f.deployment is not None and _blank(f.deployment.minors_rules):
        return [refuse("consent.guardian-under-14",
                       f"the subject is under {limit}: deployment {f.deployment.id} needs the "
                       "operator's dedicated rules for minors (minors_rules)",
                       "处理不满十四周岁未成年人的人脸信息，须制定专门的个人信息处理规则")]
    return [ok("consent.guardian-under-14",
               f"guardian consent recorded ({c.guardian_relationship})", "已记录监护人同意")]


@check("notice.required", "consent.grant")
def notice_shown(f: Facts, p: Pack) -> list[Finding]:
    """The consent names the deployment's current notice version."""
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
    """No request for race, ethnicity, religion, health, social class or other sensitive
    traits."""
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


def add_months(d: date, months: int) -> date:
    """``d`` plus whole months; the 29th-31st fall back to the month's last day."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise ValueError(d)  # pragma: no cover


def add_years(d: date, years: int) -> date:
    return add_months(d, 12 * years)


# ---- purpose and necessity (deployment.apply) ----------------------------------------------

@check("nonbiometric.preferred", "deployment.apply")
def nonbiometric_preferred(f: Facts, p: Pack) -> list[Finding]:
    """Where a non-biometric method would meet the need, a recorded reason for using faces."""
    m = f.deployment
    if m is None or not m.nonbiometric_sufficient:
        return []
    if _blank(m.face_reason):
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


@check("notice.accessible", "deployment.apply")
def notice_accessible(f: Facts, p: Pack) -> list[Finding]:
    """The alternative is usable by people with disabilities and elderly people (staffed, or
    stated how)."""
    m = f.deployment
    if m is None:
        return []
    acc = m.accessibility
    alt = m.alternative.method if m.alternative else None
    if acc is not None and not _blank(acc.alternative):
        return [ok("notice.accessible", "the alternative's accessibility is stated",
                   "已说明替代方式的无障碍安排")]
    if alt in p.params["assisted_alternatives"]:
        return [ok("notice.accessible",
                   f"the alternative {alt!r} is staffed; the generated notice is accessible",
                   "替代方式由工作人员提供协助；生成的告知书符合无障碍要求")]
    return [refuse("notice.accessible",
                   f"the alternative {alt!r} is not known to be usable by people with "
                   "disabilities or elderly people; state how (accessibility.alternative)",
                   "须说明残障人士和老年人如何使用告知书和替代方式", 422)]


@check("alternative.building-access", "deployment.apply")
def building_access(f: Facts, p: Pack) -> list[Finding]:
    """At building and residential access points, another way in or out, whatever the legal
    basis."""
    m = f.deployment
    if m is None:
        return []
    places = {m.location.type, m.location.venue} & set(p.params["building_access_locations"])
    if not places:
        return []
    alt = m.alternative
    if alt is None or _blank(alt.method) or _blank(alt.description):
        return [refuse("alternative.building-access",
                       f"face recognition may not be the only way in or out at "
                       f"{', '.join(sorted(p for p in places if p))}, whatever the legal basis",
                       "建筑物、住宅区出入不得以人脸识别为唯一方式")]
    return [ok("alternative.building-access", f"another way in: {alt.method}",
               "已提供其他出入方式")]


# ---- places and devices (deployment.apply) -------------------------------------------------

@check("place.capture-area", "deployment.apply")
def capture_area(f: Facts, p: Pack) -> list[Finding]:
    """The deployment and each device record their capture area."""
    m = f.deployment
    if m is None:
        return []
    missing = [] if not _blank(m.location.capture_area) else ["location.capture_area"]
    missing += [f"devices[{d.id}].capture_area" for d in m.devices if _blank(d.capture_area)]
    if missing:
        return [refuse("place.capture-area",
                       "every deployment and device records its capture area: "
                       + ", ".join(missing) + " missing",
                       "每个部署和设备须登记采集区域", 422)]
    return [ok("place.capture-area", f"capture area: {m.location.capture_area}",
               "已登记采集区域")]


@check("remote-id.restricted", "deployment.apply", *MATCHES)
def remote_id(f: Facts, p: Pack) -> list[Finding]:
    """Remote identification without awareness only for national security, public safety or an
    emergency, limited in time, area and people."""
    m = f.deployment
    if m is None or not m.remote_identification:
        return []
    sc = m.remote_identification_scope
    problems = []
    if sc is None or sc.basis not in p.params["remote_id_bases"]:
        problems.append("a basis from " + ", ".join(p.params["remote_id_bases"]))
    if sc is None or sc.until is None:
        problems.append("an end date (until)")
    elif sc.until < f.on:
        problems.append(f"a current end date (it ended {sc.until.isoformat()})")
    if sc is None or _blank(sc.area) or _blank(sc.people):
        problems.append("the area and the people it is limited to")
    if problems:
        return [refuse("remote-id.restricted",
                       "remote identification without awareness needs "
                       + "; ".join(problems) + " (remote_identification_scope)",
                       "远距离无感识别仅限国家安全、公共安全或紧急情况，并须限定时间、地点和人员")]
    assert sc is not None and sc.until is not None
    return [ok("remote-id.restricted",
               f"remote identification for {sc.basis} until {sc.until.isoformat()}",
               "远距离识别已限定目的、时间、地点和人员")]


@check("devices.annual-test", "deployment.apply", "enrol", *MATCHES)
def device_test(f: Facts, p: Pack) -> list[Finding]:
    """Every device had a security test within 12 months: refused at registration, flagged on
    use."""
    m = f.deployment
    if m is None:
        return []
    months = p.params["device_test_months"]
    if not m.devices:
        return [warn("devices.annual-test", "no capture device and security test is recorded "
                     "(devices)", "未登记采集设备及其安全测试")]
    overdue = [d.id for d in m.devices if d.security_tested_on is None
               or add_months(d.security_tested_on, months) < f.on]
    if not overdue:
        return [ok("devices.annual-test", f"every device tested within {months} months",
                   f"所有设备均在{months}个月内完成安全测试")]
    msg = f"device security test overdue (every {months} months): {', '.join(overdue)}"
    zh = f"设备安全测试已逾期（每{months}个月一次）：{'、'.join(overdue)}"
    if f.operation == "deployment.apply":
        return [refuse("devices.annual-test", msg, zh)]
    return [warn("devices.annual-test", msg, zh)]


# ---- consent, coercion, special transactions -----------------------------------------------

@check("consent.withdraw", *USES_TEMPLATE)
def withdrawn(f: Facts, p: Pack) -> list[Finding]:
    """Nothing is processed after the consent was withdrawn."""
    c = f.consent
    if c is None or not c.withdrawn:
        return []
    return [refuse("consent.withdraw",
                   f"the consent of {c.subject_id} for {c.deployment_id} was withdrawn: "
                   "processing has stopped", "该个人已撤回同意，处理已停止")]


@check("consent.lawful-basis", *USES_TEMPLATE)
def lawful_basis(f: Facts, p: Pack) -> list[Finding]:
    """Without a consent, a recorded legal basis (statute citation)."""
    if f.consent is not None or f.deployment is None:
        return []
    if _blank(f.deployment.legal_basis):
        return [refuse("consent.lawful-basis",
                       "no consent and no legal basis (legal_basis) is recorded for this "
                       "processing", "既无同意，也无记录的法律依据")]
    return [ok("consent.lawful-basis", f"processed under {f.deployment.legal_basis}",
               f"依据{f.deployment.legal_basis}处理")]


@check("coercion.prohibited", *MATCHES)
def coercion(f: Facts, p: Pack) -> list[Finding]:
    """No re-prompt after a decline in the same transaction; at the draft's listed venues, the
    person's explicit choice per transaction."""
    m = f.deployment
    if m is None:
        return []
    if f.declined_in_transaction:
        return [refuse("coercion.prohibited",
                       f"the person declined face recognition in transaction {f.transaction}; "
                       "do not prompt again, serve them by the alternative",
                       "个人已在本次业务中拒绝人脸识别，不得再次请求")]
    venue = m.location.venue
    if venue in p.params["coercion_venues"] and f.choice != "face":
        return [refuse("coercion.prohibited",
                       f"at a {venue} the person must choose face verification explicitly for "
                       "each transaction (choice=face, with a transaction id)",
                       "在该场所须就每次业务征得个人对人脸识别的明确选择")]
    if venue in p.params["coercion_venues"]:
        return [ok("coercion.prohibited", f"the person chose face for {f.transaction}",
                   "个人已明确选择人脸识别")]
    return []


@check("major-interest.manual-review", "verify", "transaction.review")
def major_interest(f: Facts, p: Pack) -> list[Finding]:
    """For major personal interests a match is auxiliary; a named staff member's manual check
    decides."""
    m = f.deployment
    if m is None:
        return []
    major = sorted(set(m.transactions) & set(p.params["major_interest_transactions"]))
    if not major:
        return []
    if f.operation == "verify":
        return [warn("major-interest.manual-review",
                     f"{', '.join(major)}: the face match is auxiliary and approves nothing; a "
                     "named staff member's manual check decides",
                     "涉及重大个人利益：人脸比对仅作辅助，须由具名工作人员人工核验")]
    mc = f.manual_check
    if mc is None or _blank(mc.staff) or mc.outcome not in ("confirmed", "rejected"):
        return [refuse("major-interest.manual-review",
                       "the transaction needs a named staff member's manual identity check "
                       "(staff and outcome confirmed|rejected)",
                       "须记录具名工作人员的人工身份核验结果")]
    return [ok("major-interest.manual-review",
               f"manual identity check by {mc.staff}: {mc.outcome}", "已记录人工核验")]


# ---- what may be computed and kept ---------------------------------------------------------

@check("scope.rnd-excluded", "enrol")
def rnd_excluded(f: Facts, p: Pack) -> list[Finding]:
    """Research or training data never enters an operational gallery."""
    if f.source in p.params["rnd_sources"]:
        return [refuse("scope.rnd-excluded",
                       f"face data held for {f.source} may not flow into an operational gallery",
                       "研发或算法训练数据不得流入业务人脸库")]
    return []


@check("images.no-retention", "enrol", "detect", *MATCHES)
def no_retention(f: Facts, p: Pack) -> list[Finding]:
    """No original image or video is kept."""
    if f.keep_image:
        return [refuse("images.no-retention",
                       "facegate keeps no original face image or video: images are decoded in "
                       "memory and dropped once the template is computed",
                       "不保存原始人脸图像或视频")]
    return [ok("images.no-retention", "the image is processed in memory and discarded",
               "图像仅在内存中处理后即丢弃")]


@check("storage.separate-identity", "export")
def separate_identity(f: Facts, p: Pack) -> list[Finding]:
    """Exports carry the pseudonym only, never identity data."""
    if f.export_with_identity:
        return [refuse("storage.separate-identity",
                       "templates are exported under the pseudonym only, never joined with "
                       "identity data", "人脸模板仅以假名导出，不得与身份信息关联")]
    return [ok("storage.separate-identity", "templates leave under the pseudonym only",
               "仅以假名导出")]


@check("storage.on-device", "export")
def on_device(f: Facts, p: Pack) -> list[Finding]:
    """Face data leaves the system only under a cited law or separate consent."""
    if _blank(f.export_basis):
        return [refuse("storage.on-device",
                       "face data stays on the recognising system: an export needs the law or "
                       "the person's separate consent that allows it (basis)",
                       "人脸信息应存储于识别系统内，导出须有法律依据或单独同意")]
    return [ok("storage.on-device", f"export under {f.export_basis}",
               f"依据{f.export_basis}导出")]


@check("retention.minimum", "deployment.apply", *USES_TEMPLATE)
def retention(f: Facts, p: Pack) -> list[Finding]:
    """A retention period is declared; a template past its retention end is never used."""
    if f.operation == "deployment.apply":
        m = f.deployment
        if m is not None and m.retention_days is None:
            return [refuse("retention.minimum", "the deployment states no retention period "
                           "(retention_days)", "部署未说明保存期限", 422)]
        return []
    if f.template_expires_on is not None and f.template_expires_on <= f.on:
        return [refuse("retention.minimum",
                       f"the template's retention ended on {f.template_expires_on.isoformat()}; "
                       "it is deleted, not used", "人脸模板保存期限已届满，不得使用")]
    return []


# ---- assessment and filing -----------------------------------------------------------------

@check("pia.before-use", "consent.grant", "enrol", "identify", *MATCHES, "pia.delete")
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


@check("filing.deregister", "consent.grant", "enrol", *MATCHES)
def filing_deregister(f: Facts, p: Pack) -> list[Finding]:
    """Nothing is processed at a deployment that ended face recognition."""
    if f.deployment_terminated:
        dep = f.deployment.id if f.deployment else "the deployment"
        return [refuse("filing.deregister",
                       f"{dep} has ended face recognition: its face data is deleted and the "
                       "deregistration is filed; nothing may be processed there",
                       "已终止使用人脸识别，不得再处理人脸信息")]
    return []


# ---- rights --------------------------------------------------------------------------------

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
