"""An impact assessment's texts (``pia.before-use``) in either language: the four sections and
the conclusion are a plain string or ``{zh, en}``, stored and returned as given; the assessment
document and the filing dossier pick the document's language and name each text that fell back
to the other one; the assessor is plain text; the dossier says why filing is required in
words. Migration 0012 keeps the conclusions of existing assessments."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.orm import Session
from tests.conftest import ASSESSMENT, OFFICER, office_manifest, running
from tests.document_inputs import assessment, dossier, pdf_text, squash

from facegate.api.app import create_app
from facegate.documents import Document, filing_dossier
from facegate.errors import BadInput
from facegate.service import Actor, Facegate, Settings
from facegate.service.deployments import parse_manifest
from facegate.store import db

ADMIN = Actor("test-admin", "admin")
NOTE_ZH = "部分内容仅有英文"
NOTE_EN = "only available in English"
SECTIONS = ("lawfulness", "impact", "risks", "protections")
SECTION_FIELDS = tuple(f"sections.{k}" for k in SECTIONS)
ZH = {
    "lawfulness": "三楼存放客户档案，门禁仅用于员工进出；员工已单独同意。",
    "impact": "员工可拒绝，在门卫处出示工牌即可进入，服务不受影响。",
    "risks": "模板泄露的风险，以按人加密降低；不保存任何图像。",
    "protections": "角色密钥、审计日志、一年保存期；与风险程度相适应。",
}
CONCLUSION_ZH = "在上述措施下合法且相称。"
BILINGUAL = {
    "assessor": "李娜",
    "sections": {k: {"zh": ZH[k], "en": v} for k, v in ASSESSMENT["sections"].items()},
    "conclusion": {"zh": CONCLUSION_ZH, "en": ASSESSMENT["conclusion"]},
}


def chinese_manifest() -> dict[str, Any]:
    """The office-door manifest with its own texts in Chinese: only the assessment's may fall
    back."""
    m = office_manifest(name="总部三楼办公室入口", necessity="三楼存放客户档案。",
                        least_impact="仅与员工本人模板 1:1 比对。")
    m["operator"] = {**m["operator"], "name": "示例贸易有限公司"}
    m["location"] = {**m["location"], "capture_area": "三楼门前 2 米 × 2 米区域"}
    m["alternative"] = {**m["alternative"], "description": "在门卫处出示工牌。"}
    return m


def ours(doc: Document) -> list[str]:
    """The assessment's own texts among a document's fallbacks (the manifest above is in
    Chinese: an English document names its texts too)."""
    return [f for f in doc.fallbacks if f in ("assessor", *SECTION_FIELDS, "conclusion")]


def recorded(service: Facegate, data: dict[str, Any]) -> str:
    dep = str(service.deployments.apply(OFFICER, chinese_manifest())["id"])
    service.assessments.record(OFFICER, dep, data)
    return dep


# --- the assessment document -------------------------------------------------------------------


def test_english_texts_in_a_chinese_assessment_are_flagged(service: Facegate) -> None:
    dep = recorded(service, ASSESSMENT)
    doc = service.documents.make(OFFICER, "pia", dep, lang="zh")
    assert doc.fallbacks == ("assessor", *SECTION_FIELDS, "conclusion")
    text = pdf_text(doc)
    for shown in (text, squash(doc.html)):
        assert squash(NOTE_ZH) in shown and squash(NOTE_EN) in shown
    for said in (*ASSESSMENT["sections"].values(), ASSESSMENT["conclusion"]):
        assert squash(said) in text and said in doc.html  # shown, in the other language
    assert ours(service.documents.make(OFFICER, "pia", dep, lang="en")) == []


def test_a_bilingual_assessment_reads_in_each_language(service: Facegate) -> None:
    dep = recorded(service, BILINGUAL)
    got = service.assessments.all(OFFICER, dep)[-1]
    assert got["sections"] == BILINGUAL["sections"]
    assert got["conclusion"] == BILINGUAL["conclusion"] and got["assessor"] == "李娜"
    zh = service.documents.make(OFFICER, "pia", dep, lang="zh")
    assert zh.fallbacks == () and NOTE_ZH not in zh.html
    text = pdf_text(zh)
    for said in (*ZH.values(), CONCLUSION_ZH):
        assert squash(said) in text and said in zh.html
    for said in (*ASSESSMENT["sections"].values(), ASSESSMENT["conclusion"]):
        assert said not in zh.html
    assert "{'zh'" not in zh.html and "&#39;zh&#39;" not in zh.html
    en = service.documents.make(OFFICER, "pia", dep, lang="en")
    for said in (*ASSESSMENT["sections"].values(), ASSESSMENT["conclusion"]):
        assert squash(said) in pdf_text(en) and said in en.html
    assert CONCLUSION_ZH not in en.html and ZH["risks"] not in en.html
    assert ours(en) == ["assessor"]  # a name in Chinese characters, in an English document


def test_one_language_of_a_section_falls_back(service: Facegate) -> None:
    data = copy.deepcopy(BILINGUAL)
    data["sections"]["risks"] = {"en": ASSESSMENT["sections"]["risks"]}
    data["conclusion"] = {"zh": CONCLUSION_ZH, "en": "  "}
    dep = recorded(service, data)
    assert service.assessments.all(OFFICER, dep)[-1]["conclusion"] == {"zh": CONCLUSION_ZH}
    zh = service.documents.make(OFFICER, "pia", dep, lang="zh")
    assert zh.fallbacks == ("sections.risks",) and NOTE_ZH in zh.html
    en = service.documents.make(OFFICER, "pia", dep, lang="en")
    assert ours(en) == ["assessor", "conclusion"] and CONCLUSION_ZH in en.html
    assert "only available in Chinese" in en.html


# --- what is accepted and stored ---------------------------------------------------------------


def test_texts_are_stored_as_given(service: Facegate) -> None:
    dep = recorded(service, {**ASSESSMENT, "conclusion": "  " + ASSESSMENT["conclusion"]})
    got = service.assessments.all(OFFICER, dep)[-1]
    assert got["sections"] == ASSESSMENT["sections"]
    assert got["conclusion"] == ASSESSMENT["conclusion"]  # stripped, a plain string
    data = copy.deepcopy(BILINGUAL)
    data["sections"]["impact"] = {"zh": f" {ZH['impact']} ", "en": ""}
    service.assessments.record(OFFICER, dep, data)
    got = service.assessments.all(OFFICER, dep)[-1]
    assert got["sections"]["impact"] == {"zh": ZH["impact"]}
    assert "{'zh'" not in json.dumps(got, ensure_ascii=False)


@pytest.mark.parametrize("assessor", [{"zh": "李娜", "en": "Li Na"}, ["Li Na"], 7])
def test_the_assessor_is_plain_text(service: Facegate, assessor: Any) -> None:
    dep = str(service.deployments.apply(OFFICER, chinese_manifest())["id"])
    with pytest.raises(BadInput) as e:
        service.assessments.record(OFFICER, dep, {**ASSESSMENT, "assessor": assessor})
    assert "assessor" in e.value.message and "plain text" in e.value.message
    assert "pia.before-use" in e.value.rules
    assert service.assessments.all(OFFICER, dep) == []


@pytest.mark.parametrize(("where", "value", "says"), [
    ("risks", {"zh": "风险", "fr": "risques"}, "section risks: unknown language 'fr'"),
    ("risks", {"zh": "", "en": " "}, "missing: risks"),
    ("impact", {"en": 3}, "section impact: the en text must be a string"),
    ("impact", ["a"], "section impact: give the text as a string or as a mapping"),
    ("lawfulness", {"en": "x" * 10_001}, "section lawfulness (en) is longer than 10000"),
    ("conclusion", {"zh": "x" * 10_001, "en": "ok"}, "conclusion (zh) is longer than 10000"),
    ("conclusion", {"zh": " "}, "names its assessor and its conclusion"),
    ("conclusion", {"de": "ok"}, "conclusion: unknown language 'de'"),
])
def test_a_bad_text_is_refused_naming_it(service: Facegate, where: str, value: Any,
                                         says: str) -> None:
    dep = str(service.deployments.apply(OFFICER, chinese_manifest())["id"])
    data = copy.deepcopy(ASSESSMENT)
    if where == "conclusion":
        data["conclusion"] = value
    else:
        data["sections"][where] = value
    with pytest.raises(BadInput) as e:
        service.assessments.record(OFFICER, dep, data)
    assert says in e.value.message
    assert "longer than" in says or "pia.before-use" in e.value.rules  # a length: the limits'


# --- the filing dossier ------------------------------------------------------------------------


def test_the_dossier_flags_english_assessment_texts() -> None:
    m = parse_manifest(chinese_manifest()).model_dump(mode="json")
    doc = filing_dossier(dossier(m), "zh")
    assert doc.fallbacks == (f"assessments[{m['id']}].assessor",
                             f"assessments[{m['id']}].conclusion")
    assert NOTE_ZH in doc.html and assessment(m)["conclusion"] in doc.html
    both = dossier(m)
    both["assessments"][0] |= {"assessor": "王芳", "conclusion": {"zh": CONCLUSION_ZH,
                                                                 "en": "Proportionate."}}
    zh, en = filing_dossier(both, "zh"), filing_dossier(both, "en")
    assert zh.fallbacks == () and CONCLUSION_ZH in zh.html and "Proportionate." not in zh.html
    assert "Proportionate." in en.html and CONCLUSION_ZH not in en.html


@pytest.mark.parametrize(("lang", "words"), [
    ("zh", ["存储人脸信息的人数达到备案门槛",
            "部署“总部三楼办公室入口”（hq-office-door）设在公共场所",
            "部署 elsewhere 设在公共场所"]),
    ("en", ["The number of persons whose face data is stored reached the threshold",
            "Deployment “总部三楼办公室入口” (hq-office-door) is in a public place",
            "Deployment elsewhere is in a public place"]),
])
def test_the_dossier_says_why_filing_is_required_in_words(lang: str, words: list[str]
                                                           ) -> None:
    m = parse_manifest(chinese_manifest()).model_dump(mode="json")
    d = dossier(m) | {"reasons": ["persons", "public_place:hq-office-door",
                                  "public_place:elsewhere"]}
    doc = filing_dossier(d, lang)
    text = pdf_text(doc)
    assert "public_place:" not in doc.html and "public_place:" not in text
    for said in words:
        assert said in doc.html and squash(said) in text


@pytest.fixture()
def signing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FACEGATE_MASTER_KEY", "q" * 43 + "=")
    monkeypatch.setenv("FACEGATE_SIGNING_KEY_FILE", str(tmp_path / "keys" / "signing.key"))


def test_a_public_place_dossier_names_the_deployment(tmp_path: Path, signing: None) -> None:
    from scripts.make_examples import build
    docs = build("public-square", tmp_path / "data")
    zh, en = docs["filing.zh.pdf"], docs["filing.en.pdf"]
    assert "public_place:" not in zh.html and "public_place:" not in pdf_text(zh)
    assert "部署“中央车站北广场”（station-north-square）设在公共场所" in zh.html
    assert "Deployment “Central Station north square” (station-north-square)" in en.html
    # the example's assessment is written in both languages; its operator's name is not
    assert zh.fallbacks == ("operator.name",) and en.fallbacks == ()
    # its assessment names the public security basis (there is no statute in legal_basis)
    assert "维护公共安全的依据" in docs["pia.zh.pdf"].html
    assert "市公安局第 2026-118 号决定" in docs["pia.zh.pdf"].html
    assert "Order of the city public security bureau no. 2026-118" in docs["pia.en.pdf"].html


# --- the API ---------------------------------------------------------------------------------


def test_the_api_takes_and_returns_bilingual_texts(sqlite_service: Facegate) -> None:
    key = sqlite_service.keys.create(ADMIN, "k-officer", "officer")["key"]
    off = {"X-API-Key": key}
    for base in running(create_app(sqlite_service, housekeeping_every_s=0)):
        with httpx.Client(base_url=base, timeout=120) as c:
            assert c.post("/v1/deployments", json=chinese_manifest(),
                          headers=off).status_code == 201
            url = "/v1/deployments/hq-office-door/assessments"
            r = c.post(url, json=BILINGUAL, headers=off)
            assert r.status_code == 201, r.text
            assert r.json()["sections"] == BILINGUAL["sections"]
            assert r.json()["conclusion"] == BILINGUAL["conclusion"]
            pia = "/v1/deployments/hq-office-door/documents/pia"
            doc = c.get(pia, params={"lang": "zh", "format": "html"}, headers=off)
            assert doc.status_code == 200 and CONCLUSION_ZH in doc.text
            assert "X-Facegate-Language-Fallback" not in doc.headers
            r = c.post(url, json=ASSESSMENT, headers=off)  # plain strings, as before
            assert r.status_code == 201 and r.json()["conclusion"] == ASSESSMENT["conclusion"]
            doc = c.get(pia, params={"lang": "zh", "format": "html"}, headers=off)
            assert doc.headers["X-Facegate-Language-Fallback"].split(",") == [
                "assessor", *SECTION_FIELDS, "conclusion"]
            assert NOTE_ZH in doc.text
            bad = c.post(url, json={**ASSESSMENT, "assessor": {"zh": "李娜"}}, headers=off)
            assert bad.status_code == 422 and "assessor" in bad.text
            listed = c.get(url, headers=off).json()
            assert [a["conclusion"] for a in listed] == [BILINGUAL["conclusion"],
                                                        ASSESSMENT["conclusion"]]


# --- migration 0012 --------------------------------------------------------------------------


def stored(service: Facegate) -> list[str]:
    with Session(service.db) as s:
        return list(s.execute(text("SELECT conclusion FROM assessments ORDER BY version"))
                    .scalars())


def test_the_migration_keeps_the_conclusions(service: Facegate) -> None:
    dep = recorded(service, ASSESSMENT)
    service.assessments.record(OFFICER, dep, BILINGUAL)
    plain = ASSESSMENT["conclusion"]
    assert [json.loads(c) for c in stored(service)] == [plain, BILINGUAL["conclusion"]]
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    cfg.attributes["engine"] = service.db
    command.downgrade(cfg, "0011")  # as the release before bilingual conclusions left it
    joined = f"{CONCLUSION_ZH} / {plain}"
    assert stored(service) == [plain, joined]
    command.upgrade(cfg, "head")
    assert [json.loads(c) for c in stored(service)] == [plain, joined]
    assert [a["conclusion"] for a in service.assessments.all(OFFICER, dep)] == [plain, joined]


def test_an_upgraded_installation_reads_its_old_conclusions(sqlite_service: Facegate) -> None:
    dep = recorded(sqlite_service, ASSESSMENT)
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    cfg.attributes["engine"] = sqlite_service.db
    command.downgrade(cfg, "0011")
    with Session(sqlite_service.db) as s:  # what the older release wrote: plain text
        s.execute(text("UPDATE assessments SET conclusion = :c"), {"c": '"quoted" {x}'})
        s.commit()
    Facegate.initialise(Settings(data_dir=sqlite_service.settings.data_dir))
    assert stored(sqlite_service) == [json.dumps('"quoted" {x}')]
    assert sqlite_service.assessments.all(OFFICER, dep)[0]["conclusion"] == '"quoted" {x}'
