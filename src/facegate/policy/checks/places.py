"""Places and devices (RULES.md): ``place.private-space``, ``place.public-signage``,
``place.capture-area``, ``remote-id.restricted``, ``devices.annual-test``."""

from __future__ import annotations

from facegate.policy.checks.dates import add_months
from facegate.policy.checks.registry import MATCHES, blank, check, ok, refuse, warn
from facegate.policy.decision import Finding
from facegate.policy.facts import Facts
from facegate.policy.packs import Pack
from facegate.policy.texts import one_line


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
    if m.purpose != "public_security" and blank(loc.public_security_necessity):
        missing.append("the public-security necessity (purpose public_security or "
                       "location.public_security_necessity)")
    if blank(loc.capture_area):
        missing.append("the capture area (location.capture_area)")
    if blank(loc.signage):
        missing.append("evidence of prominent reminder signs (location.signage)")
    if missing:
        return [refuse("place.public-signage",
                       "a public-place deployment must state " + "; ".join(missing),
                       "公共场所部署须说明公共安全必要性、采集区域并提供提示标识证据")]
    return [ok("place.public-signage", "public place with necessity, capture area and signs",
               "公共场所：已说明必要性、采集区域和提示标识")]


@check("place.capture-area", "deployment.apply")
def capture_area(f: Facts, p: Pack) -> list[Finding]:
    """The deployment and each device record their capture area."""
    m = f.deployment
    if m is None:
        return []
    missing = [] if not blank(m.location.capture_area) else ["location.capture_area"]
    missing += [f"devices[{d.id}].capture_area" for d in m.devices if blank(d.capture_area)]
    if missing:
        return [refuse("place.capture-area",
                       "every deployment and device records its capture area: "
                       + ", ".join(missing) + " missing",
                       "每个部署和设备须登记采集区域", 422)]
    return [ok("place.capture-area", f"capture area: {one_line(m.location.capture_area)}",
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
    if sc is None or blank(sc.area) or blank(sc.people):
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
