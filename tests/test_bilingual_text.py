"""A manifest's readable texts as ``{zh, en}``: each document shows its own language, says when
it had to fall back to the other one, and plain strings read exactly as before."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from tests.conftest import office_manifest, running
from tests.document_inputs import assessment, dossier, notice_content, pdf_text, squash

from facegate.api.app import create_app
from facegate.documents import filing_dossier, impact_assessment, notice, sign
from facegate.errors import BadInput
from facegate.policy import Facts, decide
from facegate.policy.checks.registry import blank
from facegate.policy.texts import LocalText
from facegate.service import Actor, Facegate
from facegate.service.deployments import parse_manifest

ADMIN = Actor("test-admin", "admin")
NECESSITY = {"zh": "三楼存放客户档案，工牌常被借用或遗失。",
             "en": "Floor 3 holds customer records; badges are lent and lost."}
AREA = {"zh": "三楼门前 2 米 × 2 米区域", "en": "The 2 m x 2 m area in front of the floor-3 door"}
ALT = {"zh": "在门卫处出示工牌，由门卫开门。",
       "en": "Show the staff badge at the guard desk; the door is opened by the guard."}
NAME = {"zh": "总部三楼办公室入口", "en": "Headquarters office entrance, floor 3"}
OPERATOR = {"zh": "示例贸易有限公司", "en": "Example Trading Co., Ltd."}
LEAST = {"zh": "仅与员工本人的模板进行 1:1 比对；不保存图像。",
         "en": "1:1 check against the staff member's own template only; nothing kept of the "
               "image."}
NOTE_ZH = "部分内容仅有英文"


def bilingual(**over: Any) -> dict[str, Any]:
    """The office-door manifest with its readable texts in both languages."""
    m = office_manifest(name=NAME, necessity=NECESSITY, least_impact=LEAST)
    m["operator"] = {**m["operator"], "name": OPERATOR}
    m["location"] = {**m["location"], "capture_area": AREA}
    m["alternative"] = {**m["alternative"], "description": ALT}
    m.update(over)
    return m


def parsed(m: dict[str, Any]) -> dict[str, Any]:
    """The manifest as the service stores it (and gives to the documents)."""
    out: dict[str, Any] = parse_manifest(m).model_dump(mode="json")
    return out


# --- plain strings read as before -------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_text_given_twice_alike_reads_as_the_plain_string(lang: str) -> None:
    plain_m = parsed(office_manifest())
    same = copy.deepcopy(plain_m)
    for keys in (("necessity",), ("least_impact",), ("name",), ("operator", "name"),
                 ("operator", "contact"), ("location", "capture_area"),
                 ("alternative", "description")):
        holder = same
        for k in keys[:-1]:
            holder = holder[k]
        holder[keys[-1]] = {"zh": holder[keys[-1]], "en": holder[keys[-1]]}
    assert parse_manifest(office_manifest()).necessity == office_manifest()["necessity"]
    for build in (lambda m: notice(notice_content(m), lang),
                  lambda m: impact_assessment(assessment(m), m, lang),
                  lambda m: filing_dossier(dossier(m), lang)):
        before, after = build(plain_m), build(same)
        assert before.html == after.html
        assert before.fallbacks == after.fallbacks
        # the reference manifest is written in English: a Chinese document says so
        assert bool(before.fallbacks) == (lang == "zh") == (NOTE_ZH in before.html)
        assert "operator.contact" not in before.fallbacks
    signs = [sign(m, "https://faces.example.com/notice/x") for m in (plain_m, same)]
    assert signs[0].html == signs[1].html and signs[0].fallbacks == signs[1].fallbacks


# --- each language's own text ----------------------------------------------------------------


def bilingual_assessment(m: dict[str, Any]) -> dict[str, Any]:
    """The assessment's own texts in both languages (an assessor's name in both scripts)."""
    a = assessment(m)
    zh = {"lawfulness": "门禁所在楼层存放客户档案。",
          "impact": "仅作一比一比对，不保存图像。",
          "risks": "模板泄露，以静态加密缓解。",
          "protections": "加密、只可追加的审计记录、分角色密钥。"}
    return {**a, "assessor": "王芳 Wang Fang",
            "sections": {k: {"zh": zh[k], "en": v} for k, v in a["sections"].items()},
            "conclusion": {"zh": "与需要相称，可以上线。", "en": a["conclusion"]}}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_documents_show_their_own_language(lang: str) -> None:
    m = parsed(bilingual())
    other = "en" if lang == "zh" else "zh"
    docs = [notice(notice_content(m), lang), impact_assessment(bilingual_assessment(m), m, lang),
            filing_dossier({**dossier(m), "assessments": [bilingual_assessment(m)]}, lang)]
    for doc in docs:
        text = pdf_text(doc)
        assert squash(OPERATOR[lang]) in text and squash(OPERATOR[other]) not in text, doc.kind
        assert OPERATOR[lang] in doc.html and OPERATOR[other] not in doc.html
        assert doc.fallbacks == ()
    n = docs[0]
    for texts in (NECESSITY, AREA, ALT, NAME):
        assert squash(texts[lang]) in pdf_text(n) and texts[lang] in n.html
        assert texts[other] not in n.html
    assert "{'zh'" not in n.html and "&#39;zh&#39;" not in n.html


def test_the_sign_shows_both_languages() -> None:
    m = parsed(bilingual())
    doc = sign(m, "https://faces.example.com/notice/hq-office-door")
    text = pdf_text(doc)
    for texts in (AREA, OPERATOR, ALT):
        assert squash(texts["zh"]) in text and squash(texts["en"]) in text
        assert texts["zh"] in doc.html and texts["en"] in doc.html
    assert doc.fallbacks == ()


# --- a missing language is flagged ------------------------------------------------------------


def test_a_chinese_document_with_english_only_text_is_flagged() -> None:
    m = parsed(bilingual(necessity={"en": NECESSITY["en"]}))
    m["alternative"]["description"] = {"en": ALT["en"]}
    doc = notice(notice_content(m), "zh")
    assert doc.fallbacks == ("alternative.description", "necessity")
    text = pdf_text(doc)
    assert squash(NECESSITY["en"]) in text and NECESSITY["en"] in doc.html
    for shown in (text, squash(doc.html)):
        assert squash(NOTE_ZH) in shown and squash("only available in English") in shown
        assert "necessity" in shown
    en = notice(notice_content(m), "en")
    assert en.fallbacks == () and NOTE_ZH not in en.html
    pia = impact_assessment(bilingual_assessment(m), {**m, "name": {"en": NAME["en"]}}, "zh")
    assert pia.fallbacks == ("name",) and NOTE_ZH in pia.html
    english = impact_assessment(assessment(m), m, "zh")  # the assessment's own English texts
    assert {"assessor", "sections.lawfulness", "conclusion"} <= set(english.fallbacks)
    board = sign(m, "https://faces.example.com/notice/x")
    assert set(board.fallbacks) == {"alternative.description"}
    assert squash("仅有一种语言") in pdf_text(board)


def test_an_english_document_with_chinese_only_text_is_flagged() -> None:
    m = parsed(bilingual(least_impact={"zh": "仅与本人模板 1:1 比对。"}))
    doc = notice(notice_content(m), "en")
    assert doc.fallbacks == ("least_impact",)
    assert "仅与本人模板" in doc.html and "only available in Chinese" in doc.html


# --- bad texts are refused, naming the field --------------------------------------------------


@pytest.mark.parametrize(("where", "value", "says"), [
    (("necessity",), {"zh": "必要", "fr": "nécessaire"}, "unknown language 'fr'"),
    (("location", "capture_area"), {"zh": "", "en": "  "}, "empty"),
    (("alternative", "description"), {}, "empty"),
    (("operator", "name"), {"en": 3}, "must be a string"),
    (("name",), ["a", "b"], "or as a mapping {zh: ..., en: ...}"),
])
def test_a_bad_text_is_refused_naming_the_field(where: tuple[str, ...], value: Any,
                                                says: str) -> None:
    m = office_manifest()
    holder = m
    for k in where[:-1]:
        holder[k] = dict(holder[k])
        holder = holder[k]
    holder[where[-1]] = value
    with pytest.raises(BadInput) as e:
        parse_manifest(m)
    assert e.value.http_status == 422
    assert ".".join(where) in e.value.message and says in e.value.message


def test_a_text_with_only_empty_languages_is_blank_to_the_gate() -> None:
    assert blank(LocalText(zh="", en="  ")) and blank(LocalText())
    assert not blank(LocalText(en="x")) and not blank("x") and blank(" ")
    m = parse_manifest(bilingual())
    facts = Facts(operation="deployment.apply", pack="cn-2025", on=date(2025, 10, 1),
                  actor_role="officer", deployment=m)
    assert decide(facts).allowed
    empty = m.model_copy(update={"necessity": LocalText(zh="", en=" ")})
    decision = decide(Facts(operation="deployment.apply", pack="cn-2025", on=date(2025, 10, 1),
                            actor_role="officer", deployment=empty))
    assert not decision.allowed and "purpose.declared" in decision.rules


# --- the API --------------------------------------------------------------------------------


@pytest.fixture()
def api(sqlite_service: Facegate) -> Iterator[tuple[str, dict[str, str]]]:
    key = sqlite_service.keys.create(ADMIN, "k-officer", "officer")["key"]
    for base in running(create_app(sqlite_service, housekeeping_every_s=0)):
        yield base, {"X-API-Key": key}


def test_the_api_takes_bilingual_texts(api: tuple[str, dict[str, str]]) -> None:
    base, off = api
    with httpx.Client(base_url=base, timeout=120) as c:
        r = c.post("/v1/deployments", json=bilingual(), headers=off)
        assert r.status_code == 201, r.text
        assert r.json()["notice_version"] == 1
        assert c.post("/v1/deployments", json=bilingual(), headers=off).json()[
            "notice_version"] == 1  # the same texts: the same notice
        n = c.get("/v1/deployments/hq-office-door/notice", headers=off)
        assert n.status_code == 200, n.text
        assert n.json()["necessity"] == NECESSITY and n.json()["capture_area"] == AREA
        got = c.get("/v1/deployments/hq-office-door", headers=off).json()
        assert got["manifest"]["alternative"]["description"] == ALT
        assert got["name"] == f"{NAME['zh']} / {NAME['en']}"
        doc = c.get("/v1/deployments/hq-office-door/documents/notice",
                    params={"lang": "zh", "format": "html", "draft": "true"}, headers=off)
        assert doc.status_code == 200 and NECESSITY["zh"] in doc.text
        assert NECESSITY["en"] not in doc.text
        assert "X-Facegate-Language-Fallback" not in doc.headers
        page = c.get("/notice/hq-office-door", params={"lang": "zh"})
        assert page.status_code == 200 and NECESSITY["zh"] in page.text
        assert ALT["zh"] in page.text and NECESSITY["en"] not in page.text
        assert "X-Facegate-Language-Fallback" not in page.headers and NOTE_ZH not in page.text

        r = c.post("/v1/deployments", json=bilingual(necessity={"en": NECESSITY["en"]}),
                   headers=off)
        assert r.status_code == 201 and r.json()["notice_version"] == 2
        doc = c.get("/v1/deployments/hq-office-door/documents/notice",
                    params={"lang": "zh", "format": "html", "draft": "true"}, headers=off)
        assert doc.headers["X-Facegate-Language-Fallback"] == "necessity"
        assert NOTE_ZH in doc.text
        page = c.get("/notice/hq-office-door", params={"lang": "zh"})
        assert NECESSITY["en"] in page.text and NOTE_ZH in page.text
        assert page.headers["X-Facegate-Language-Fallback"] == "necessity"
        # plain strings are judged by their script on the public page too
        assert c.post("/v1/deployments", json=office_manifest(), headers=off
                      ).status_code == 201
        page = c.get("/notice/hq-office-door", params={"lang": "zh"})
        assert NOTE_ZH in page.text, page.text
        assert {"necessity", "location.capture_area", "alternative.description"} <= set(
            page.headers["X-Facegate-Language-Fallback"].split(","))

        bad = bilingual(necessity={"zh": "必要", "de": "notwendig"})
        r = c.post("/v1/deployments", json=bad, headers=off)
        assert r.status_code == 422 and "necessity" in r.json()["message"]


def test_plain_strings_are_judged_by_their_script() -> None:
    """A plain string says nothing of its language: an English sentence in a Chinese document
    is flagged, a Chinese one is not; contact details and codes are neither."""
    chinese = parsed(office_manifest(necessity=NECESSITY["zh"], least_impact=LEAST["zh"],
                                     name=NAME["zh"]))
    chinese["operator"]["name"] = OPERATOR["zh"]
    chinese["location"]["capture_area"] = AREA["zh"]
    chinese["alternative"]["description"] = ALT["zh"]
    assert notice(notice_content(chinese), "zh").fallbacks == ()
    english = notice(notice_content(chinese), "en")
    assert "necessity" in english.fallbacks and "operator.contact" not in english.fallbacks
    mixed = parsed(office_manifest())
    assert "necessity" in notice(notice_content(mixed), "zh").fallbacks
