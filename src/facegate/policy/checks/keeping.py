"""What may be computed and kept (RULES.md): ``attributes.sensitive``,
``images.no-retention``, ``storage.separate-identity``, ``storage.on-device``,
``retention.minimum``, ``security.controls`` (with the roles' permissions)."""

from __future__ import annotations

from facegate.policy.checks.registry import (
    ALL_OPERATIONS,
    MATCHES,
    USES_TEMPLATE,
    blank,
    check,
    ok,
    refuse,
)
from facegate.policy.decision import Finding
from facegate.policy.facts import Facts
from facegate.policy.packs import Pack


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
    if blank(f.export_basis):
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


ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "operator": frozenset({"enrol", "verify", "identify", "identify.match", "decline", "detect",
                           "deployment.read", "transaction.review"}),
    "officer": frozenset({"deployment.apply", "deployment.read", "deployment.terminate",
                          "subject.add", "subject.read", "subject.delete", "consent.grant",
                          "consent.withdraw", "consent.read", "audit.read", "audit.verify",
                          "decline", "export", "pia.record", "pia.read", "pia.delete",
                          "rights.access", "rights.delete", "rights.read", "housekeeping",
                          "filing.read", "filing.record", "documents", "engine.read",
                          "engine.migrate", "key.manage"}),
    "auditor": frozenset({"audit.read", "audit.verify", "pia.read", "filing.read",
                          "rights.read", "deployment.read"}),
    # The person, on the public rights page: no key; only a request, which the officer
    # carries out once the person's identity is checked (``rights.handle``).
    "person": frozenset({"rights.request"}),
    "admin": ALL_OPERATIONS,
    # A kiosk's key: its own deployment's matches and the person's declines, nothing else
    # (``device_bound``).
    "device": frozenset({"kiosk", "verify", "identify", "identify.match", "decline"}),
}


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


# The keys an officer may create and revoke: a key of the officer's own role or the admin's
# would let an officer hand out more than the officer role holds.
OFFICER_KEY_ROLES = frozenset({"operator", "auditor", "device"})


@check("security.controls", "key.manage")
def key_role_may(f: Facts, p: Pack) -> list[Finding]:
    """An officer manages operator, auditor and device keys only; the admin manages every
    key."""
    if f.actor_role == "officer" and f.key_role is not None \
            and f.key_role not in OFFICER_KEY_ROLES:
        return [refuse("security.controls",
                       f"an officer manages operator, auditor and device keys only, not an "
                       f"{f.key_role!r} key", f"安全负责人只能管理操作员、审计员和设备密钥，"
                       f"不能管理“{f.key_role}”密钥")]
    return []


@check("security.controls", *ALL_OPERATIONS)
def device_bound(f: Facts, p: Pack) -> list[Finding]:
    """A device key acts only at the deployment it belongs to, and only while its device is
    registered in that deployment's manifest (``devices``)."""
    if f.actor_role != "device":
        return []
    at = f.deployment.id if f.deployment is not None else f.deployment_id
    if f.actor_deployment is None or at != f.actor_deployment:
        return [refuse("security.controls",
                       f"a device key of {f.actor_deployment!r} may not act at {at!r}",
                       f"设备密钥只能用于其所属部署“{f.actor_deployment}”")]
    if f.deployment is not None and f.actor_device not in {d.id for d in f.deployment.devices}:
        return [refuse("security.controls",
                       f"device {f.actor_device!r} is not registered in the manifest of "
                       f"{at} (devices)", f"设备“{f.actor_device}”未在部署清单中登记")]
    return []

