"""The example deployments in ``examples/``: each is lawful under its pack, behaves as its
comment says, and ships documents that match what facegate generates from it today."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from scripts.make_examples import AS_OF, EXAMPLES, RECEIPTS, build, load

from facegate.documents import deletion_receipt
from facegate.policy import (
    AssessmentFacts,
    ConsentFacts,
    Facts,
    Manifest,
    SubjectFacts,
    decide,
)

NAMES = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def manifest(name: str) -> dict[str, Any]:
    return load(EXAMPLES / name / "deployment.yaml")


def use(name: str, op: str = "verify", **kw: Any) -> Facts:
    m = Manifest.model_validate(manifest(name))
    consent = ConsentFacts("sub_1", m.id, m.purpose or "", 1, "written", "g-1", "mother")
    base: dict[str, Any] = {
        "operation": op, "pack": m.rule_pack or "cn-draft-2023", "on": AS_OF.date(),
        "deployment": m, "subject": SubjectFacts("sub_1", date(1990, 1, 1)),
        "consent": consent, "assessment": AssessmentFacts(1, date(2026, 9, 1),
                                                          date(2029, 9, 1))}
    return Facts(**(base | kw))


def test_there_are_five_examples() -> None:
    assert NAMES == ["hotel-checkin", "office-door", "public-square", "school-gate",
                     "social-assistance"]


@pytest.fixture()
def master_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FACEGATE_MASTER_KEY", "q" * 43 + "=")
    # the signing key and checkpoints stay in the test's folder, not in ~/.config
    monkeypatch.setenv("FACEGATE_SIGNING_KEY_FILE", str(tmp_path / "keys" / "signing.key"))


@pytest.mark.parametrize("name", NAMES)
def test_example_is_lawful_and_its_documents_are_current(name: str, tmp_path: Path,
                                                         master_key: None) -> None:
    raw = manifest(name)
    decision = decide(Facts(operation="deployment.apply", pack=raw["rule_pack"],
                            on=AS_OF.date(), deployment=Manifest.model_validate(raw)))
    assert decision.allowed, decision.message()
    docs = build(name, tmp_path / "data")
    shipped = EXAMPLES / name / "documents"
    extra = ["receipt.json"] if name in RECEIPTS else []
    assert sorted(p.name for p in shipped.iterdir()) == sorted([*docs, *extra])
    named = raw["operator"]["name"]  # a plain string, or {zh, en}: either may be shown
    operators = list(named.values()) if isinstance(named, dict) else [named]
    assessor = load(EXAMPLES / name / "assessment.yaml")["assessor"]
    for file, doc in docs.items():
        if file.endswith(".html"):
            assert (shipped / file).read_text() == doc.html, f"{name}/{file} is stale"
            assert any(o in doc.html for o in operators)
            continue
        text = pdf_text(doc.pdf())
        if file.startswith("receipt"):  # a fresh pseudonym each run: check the shipped one
            receipt = json.loads((shipped / "receipt.json").read_text())
            assert receipt.keys() == RECEIPTS[name].keys() and "cn-2025" in text
            doc = deletion_receipt(receipt, doc.lang)
            text = pdf_text(doc.pdf())
        assert pdf_text((shipped / file).read_bytes()) == text, (
            f"{name}/{file} is stale: run scripts/make_examples.py")
        if file.startswith(("notice", "sign", "pia")):
            assert any(o in text for o in operators), file
        if file.startswith("pia"):
            assert assessor in text
        if file.endswith(".zh.pdf") and file.startswith("notice"):
            assert "告知" in text and raw["operator"]["contact"] in text


def test_public_square_is_filed_under_the_draft_only(tmp_path: Path, master_key: None) -> None:
    apply = use("public-square", "deployment.apply")
    assert "filing.threshold" in [w.rule for w in decide(apply).warnings]
    assert "filing.threshold" not in decide(Facts(**{**apply.__dict__,
                                                     "pack": "cn-2025"})).rules
    dossier = pdf_text(build("public-square", tmp_path / "d")["filing.en.pdf"].pdf())
    assert "station-north-square" in dossier and "2026-11-19" in dossier  # 30 working days


def test_hotel_needs_the_guests_choice_per_check_in() -> None:
    assert decide(use("hotel-checkin")).refused_by == ["coercion.prohibited"]
    assert decide(use("hotel-checkin", transaction="checkin-1", choice="face")).allowed
    declined = use("hotel-checkin", transaction="checkin-1", choice="face",
                   declined_in_transaction=True)
    assert decide(declined).refused_by == ["coercion.prohibited"]


def test_social_assistance_match_is_only_auxiliary() -> None:
    d = decide(use("social-assistance"))
    assert d.allowed and "major-interest.manual-review" in [w.rule for w in d.warnings]
    assert decide(use("social-assistance", "transaction.review")).refused_by == [
        "major-interest.manual-review"]


def test_school_children_need_guardians_and_rules_for_minors() -> None:
    child = SubjectFacts("sub_1", date(2016, 4, 2))
    assert decide(use("school-gate", "enrol", subject=child)).allowed
    alone = ConsentFacts("sub_1", "lakeside-school-gate", "access_control", 1, "written")
    assert decide(use("school-gate", "enrol", subject=child, consent=alone)).refused_by == [
        "consent.guardian-under-14"]
    no_rules = Manifest.model_validate(manifest("school-gate") | {"minors_rules": None})
    assert decide(use("school-gate", "enrol", subject=child,
                      deployment=no_rules)).refused_by == ["consent.guardian-under-14"]


def test_office_door_has_another_way_in() -> None:
    raw = manifest("office-door")
    del raw["alternative"]
    d = decide(Facts(operation="deployment.apply", pack="cn-draft-2023", on=AS_OF.date(),
                     deployment=Manifest.model_validate(raw | {"legal_basis": "a statute"})))
    assert d.refused_by == ["alternative.building-access"]
