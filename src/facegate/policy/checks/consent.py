"""Notice and consent (RULES.md): ``notice.required``, ``notice.accessible``,
``consent.separate``, ``consent.guardian-under-14``, ``consent.withdraw``,
``consent.lawful-basis``."""

from __future__ import annotations

from facegate.policy.checks.dates import age_on
from facegate.policy.checks.registry import USES_TEMPLATE, blank, check, ok, refuse
from facegate.policy.decision import Finding
from facegate.policy.facts import Facts
from facegate.policy.packs import Pack


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


@check("notice.accessible", "deployment.apply")
def notice_accessible(f: Facts, p: Pack) -> list[Finding]:
    """The alternative is usable by people with disabilities and elderly people (staffed, or
    stated how)."""
    m = f.deployment
    if m is None:
        return []
    acc = m.accessibility
    alt = m.alternative.method if m.alternative else None
    if acc is not None and not blank(acc.alternative):
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


@check("consent.separate", "consent.grant", *USES_TEMPLATE)
def consent_separate(f: Facts, p: Pack) -> list[Finding]:
    """A separate consent of this subject for this deployment (electronic or written), unless
    a legal basis applies."""
    c = f.consent
    if c is not None and c.withdrawn:
        return []  # consent.withdraw refuses
    if c is None:
        if f.deployment is not None and not blank(f.deployment.legal_basis):
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
    if blank(c.guardian_ref) or blank(c.guardian_relationship):
        return [refuse("consent.guardian-under-14",
                       f"the subject is {age} on {f.on.isoformat()}, under {limit}: a guardian's "
                       "consent (guardian reference and relationship) is required",
                       f"该个人于{f.on.isoformat()}未满{limit}周岁，须取得监护人同意")]
    if f.deployment is not None and blank(f.deployment.minors_rules):
        return [refuse("consent.guardian-under-14",
                       f"the subject is under {limit}: deployment {f.deployment.id} needs the "
                       "operator's dedicated rules for minors (minors_rules)",
                       "处理不满十四周岁未成年人的人脸信息，须制定专门的个人信息处理规则")]
    return [ok("consent.guardian-under-14",
               f"guardian consent recorded ({c.guardian_relationship})", "已记录监护人同意")]


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
    if blank(f.deployment.legal_basis):
        return [refuse("consent.lawful-basis",
                       "no consent and no legal basis (legal_basis) is recorded for this "
                       "processing", "既无同意，也无记录的法律依据")]
    return [ok("consent.lawful-basis", f"processed under {f.deployment.legal_basis}",
               f"依据{f.deployment.legal_basis}处理")]
