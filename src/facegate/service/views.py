"""What the service returns about its records: plain dicts for the interfaces, never a
template's values; digests and deletion receipts. Times are stored in UTC and told in the
installation's zone with its offset (``tz``, ``localtime.iso_local``): every caller passes
the installation's zone (``Clock.tz``); none is assumed here."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, tzinfo
from typing import Any

from facegate.engine import Box, Face
from facegate.localtime import iso_local
from facegate.policy import Manifest
from facegate.policy.texts import as_json, in_lang
from facegate.store.models import Assessment, Consent, Deployment, Template


def digest_of(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False,
                                     default=str).encode()).hexdigest()


def notice_content(m: Manifest) -> dict[str, Any]:
    """The notice a person is shown before capture (``notice.required``), from the manifest."""
    alt = m.alternative
    return {
        "deployment": m.id, "name": as_json(m.name),
        "operator": {"name": as_json(m.operator.name), "contact": as_json(m.operator.contact)},
        "purpose": m.purpose, "necessity": as_json(m.necessity),
        "least_impact": as_json(m.least_impact),
        "method": {"verify": "1:1 verification against your own template",
                   "identify": "1:N identification against the enrolled gallery"}.get(m.mode),
        "retention_days": m.retention_days,
        "capture_area": as_json(m.location.capture_area),
        "alternative": {"method": alt.method, "description": as_json(alt.description)}
        if alt else None,
        "rights": {
            "en": "You may refuse face recognition and use the alternative without any loss of "
                  "service; you may withdraw consent at any time, which deletes your face data "
                  "at once; you may ask what face data is held about you and have it deleted. "
                  f"Contact: {in_lang(m.operator.contact, 'en')}.",
            "zh": "您可以拒绝人脸识别并使用替代方式，服务不受影响；您可以随时撤回同意，"
                  "撤回后您的人脸信息将立即删除；您可以查阅并要求删除您的人脸信息。"
                  f"联系方式：{in_lang(m.operator.contact, 'zh')}。",
        },
        "images_kept": False,
    }


def receipt(operation: str, subject_id: str, now: datetime, gone: list[Template],
            index_entries: int, rule_pack: str, *, tz: tzinfo, **extra: Any) -> dict[str, Any]:
    """A deletion receipt (``consent.withdraw``, ``rights.delete``), with its own digest."""
    body = {
        "operation": operation, "subject": subject_id, "at": iso_local(now, tz),
        "deleted": {"templates": [t.id for t in gone], "index_entries": index_entries,
                    **{k: v for k, v in extra.items() if k != "deployments"}},
        "deployments": extra.get("deployments", sorted({t.deployment_id for t in gone})),
        "rules": ["consent.withdraw", "rights.delete"],
        "rule_pack": rule_pack,
    }
    return {**body, "sha256": digest_of(body)}


def deployment_view(d: Deployment, *, tz: tzinfo) -> dict[str, Any]:
    return {"id": d.id, "name": d.name, "purpose": d.purpose, "mode": d.mode,
            "rule_pack": d.rule_pack, "status": d.status, "notice_version": d.notice_version,
            "engine": d.engine, "migrating_to": d.migrating_to,
            "updated_at": iso_local(d.updated_at, tz)}


def consent_view(c: Consent, guardian_ref: str | None, *, tz: tzinfo) -> dict[str, Any]:
    """A consent as callers see it; ``guardian_ref`` is the opened guardian's reference."""
    return {"id": c.id, "subject": c.subject_id, "deployment": c.deployment_id,
            "purpose": c.purpose, "notice_version": c.notice_version, "method": c.method,
            "storage_location": c.storage_location, "guardian_ref": guardian_ref,
            "guardian_relationship": c.guardian_relationship,
            "granted_at": iso_local(c.granted_at, tz), "granted_by": c.granted_by,
            "withdrawn_at": iso_local(c.withdrawn_at, tz),
            "active": c.withdrawn_at is None}


def template_view(t: Template, *, tz: tzinfo) -> dict[str, Any]:
    return {"id": t.id, "deployment": t.deployment_id, "engine": t.engine,
            "model_version": t.model_version, "created_at": iso_local(t.created_at, tz),
            "expires_at": iso_local(t.expires_at, tz), "quality": t.quality}


def assessment_view(a: Assessment) -> dict[str, Any]:
    """An assessment; its sections and conclusion each a plain string or ``{zh, en}``. The
    conclusion's column holds it as JSON (migration 0012); text that is not is shown as is."""
    try:
        conclusion: Any = json.loads(a.conclusion)
    except ValueError:
        conclusion = a.conclusion
    if not isinstance(conclusion, str | dict):
        conclusion = a.conclusion
    return {"deployment": a.deployment_id, "version": a.version, "purpose": a.purpose,
            "mode": a.mode, "assessor": a.assessor, "assessed_on": a.assessed_on.isoformat(),
            "keep_until": a.keep_until.isoformat(), "sections": dict(a.sections),
            "conclusion": conclusion, "stale": a.stale_reason is not None,
            "stale_reason": a.stale_reason}


def quality_view(face: Face) -> dict[str, Any]:
    q = face.quality
    return {"size": q.size, "detector_score": round(q.detector_score, 3),
            "sharpness": round(q.sharpness, 1), "brightness": round(q.brightness, 1),
            "yaw": round(q.yaw, 1), "roll": round(q.roll, 1), "pitch": round(q.pitch, 1),
            "issues": list(q.issues), "detector": face.detector}


def box_view(box: Box, scale: float = 1.0, width: int | None = None,
             height: int | None = None) -> dict[str, int]:
    """A face box in the upload's own pixels: the engine's box (found in the decoded, possibly
    downscaled image) times ``scale``, kept inside the ``width`` x ``height`` upload."""

    def at(v: int, side: int | None) -> int:
        out = round(v * scale)
        return out if side is None else min(max(out, 0), side)

    return {"left": at(box.left, width), "top": at(box.top, height),
            "right": at(box.right, width), "bottom": at(box.bottom, height)}


def face_view(face: Face, scale: float = 1.0, width: int | None = None,
              height: int | None = None) -> dict[str, Any]:
    """Where a face is (in the upload's pixels) and its quality (measured on the pixels the
    engine analysed)."""
    return {"box": box_view(face.box, scale, width, height), "quality": quality_view(face)}
