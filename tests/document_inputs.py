"""Inputs for the document tests (a notice's content, an assessment, a dossier, a receipt, as
the service hands them over) and reading a PDF's text back."""

from __future__ import annotations

import io
import re
from typing import Any

from pypdf import PdfReader

from facegate.documents import Document

NOTICE_URL = "https://faces.example.com/notices/hq-office-door/v3"
DIGEST = "3f" * 32
RECEIPT_SHA = "9c" * 32


def notice_content(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "deployment": m["id"], "name": m["name"], "version": 3, "digest": DIGEST,
        "operator": dict(m["operator"]), "purpose": m["purpose"], "necessity": m["necessity"],
        "least_impact": m["least_impact"],
        "method": "1:1 verification against your own template",
        "retention_days": m["retention_days"], "capture_area": m["location"]["capture_area"],
        "alternative": dict(m["alternative"]),
        "rights": {
            "en": "You may refuse face recognition and use the alternative without any loss "
                  "of service; you may withdraw consent at any time.",
            "zh": "您可以拒绝人脸识别并使用替代方式，服务不受影响；您可以随时撤回同意。",
        },
        "images_kept": False, "url": NOTICE_URL,
    }


def assessment(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "deployment": m["id"], "version": 2, "assessed_on": "2025-09-01",
        "assessor": "Wang Fang, data protection officer",
        "sections": {
            "lawfulness": "Door access to a floor that holds customer records.",
            "impact": "Only a 1:1 comparison; no image is kept.",
            "risks": "Template leakage, mitigated by encryption at rest.",
            "protections": "Encryption, an append-only audit trail, role-based keys.",
        },
        "conclusion": "Proportionate to the need; may go live.",
        "keep_until": "2028-09-01", "purpose": m["purpose"], "mode": m["mode"],
    }


def dossier(m: dict[str, Any], count: int = 1) -> dict[str, Any]:
    deployments = [dict(m, id=f"{m['id']}-{i}") if count > 1 else m for i in range(count)]
    return {
        "pack": "cn-draft-2023", "authority": "city-level cyberspace administration or above",
        "generated_on": "2025-10-02", "operator": dict(m["operator"]), "persons": 10_234,
        "threshold": 10_000, "crossed_on": "2025-09-15", "due_on": "2025-10-31",
        "reasons": ["more than 10,000 persons stored"], "deployments": deployments,
        "security_measures": ["Templates encrypted at rest", "Tamper-evident audit trail"],
        "processing_rules": ["Templates expire after the retention period"],
        "assessments": [assessment(m)],
    }


def receipt() -> dict[str, Any]:
    return {
        "operation": "consent.withdraw", "subject": "subj-7f3a9c",
        "at": "2025-10-02T10:15:00+08:00",
        "deleted": {"templates": ["tpl-001", "tpl-002"], "index_entries": 2,
                    "key_destroyed": True},
        "deployments": ["hq-office-door"], "rules": ["consent.withdraw"], "sha256": RECEIPT_SHA,
    }


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pdf_text(doc: Document) -> str:
    """The PDF's text, whitespace removed (lines wrap anywhere)."""
    reader = PdfReader(io.BytesIO(doc.pdf()))
    return squash("".join(page.extract_text() for page in reader.pages))


def assert_in(needles: list[str], text: str) -> None:
    missing = [n for n in needles if squash(n) not in text]
    assert not missing, f"not in the PDF text: {missing}"


def reader(doc: Document) -> PdfReader:
    return PdfReader(io.BytesIO(doc.pdf()))
