"""The compliance documents: each kind in each language, read back from the PDF with pypdf.

Checks the fields the rules demand (notice.required, place.public-signage, pia.before-use,
filing.threshold, consent.withdraw, rights.delete), the sign's QR code and page size, HTML
escaping, and that missing optional fields print as a dash instead of failing.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import segno
import yaml
from tests.document_inputs import (
    DIGEST,
    NOTICE_URL,
    RECEIPT_SHA,
    assert_in,
    assessment,
    dossier,
    notice_content,
    pdf_text,
    reader,
    receipt,
    squash,
)

from facegate.documents import (
    deletion_receipt,
    filing_dossier,
    impact_assessment,
    notice,
    sign,
    sign_qr,
)
from facegate.documents.qr import dark_runs

MANIFEST_PATH = Path(__file__).resolve().parents[2] / "shared" / "examples" / "office-door.yaml"
LANGS = ("zh", "en")
A4 = (595.2756, 841.8898)
A3 = (841.8898, 1190.5512)


# --- inputs -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    if not MANIFEST_PATH.is_file():
        pytest.skip(f"example manifest not found: {MANIFEST_PATH}")
    data: dict[str, Any] = yaml.safe_load(MANIFEST_PATH.read_text(encoding="utf-8"))
    return data


PURPOSE = {"zh": "门禁通行", "en": "Access control"}


# --- notice (notice.required, notice.accessible) ----------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_notice_shows_every_required_field(manifest: dict[str, Any], lang: str) -> None:
    doc = notice(notice_content(manifest), lang)
    assert (doc.kind, doc.lang) == ("notice", lang)
    text = pdf_text(doc)
    op = manifest["operator"]
    assert_in([op["name"], op["contact"], PURPOSE[lang], manifest["necessity"],
               manifest["least_impact"], manifest["location"]["capture_area"],
               manifest["alternative"]["description"], DIGEST, NOTICE_URL, "notice.required"],
              text)
    if lang == "zh":
        assert_in(["告知", "与您本人的人脸模板进行1:1比对验证", "365天", "撤回同意", "查阅",
                   "删除", "选择替代方式", "在门卫处出示工牌", "告知书版本", "不保存",
                   "您可以拒绝人脸识别"], text)
    else:
        assert_in(["Face recognition notice", "1:1 verification against your own template",
                   "365 days", "Withdraw consent", "Access:", "Delete:", "Choose the alternative",
                   "Badge at the guard desk", "Notice version", "Not kept",
                   "You may refuse face recognition"], text)


@pytest.mark.parametrize("lang", LANGS)
def test_notice_html_is_large_type_and_tagged(manifest: dict[str, Any], lang: str) -> None:
    doc = notice(notice_content(manifest), lang)
    expected = "zh-Hans" if lang == "zh" else "en"
    assert f'<html lang="{expected}">' in doc.html
    assert 'class="notice accessible"' in doc.html
    assert "<h1>" in doc.html and "<h2 " in doc.html
    assert "<style>" in doc.html and "http" not in doc.html.split("<body")[0]  # self-contained
    assert manifest["operator"]["contact"] in doc.html


def test_notice_pdf_metadata_and_page_numbers(manifest: dict[str, Any]) -> None:
    doc = notice(notice_content(manifest), "en")
    r = reader(doc)
    assert r.metadata is not None and r.metadata.title == doc.title
    assert manifest["name"] in doc.title
    pages = len(r.pages)
    assert pages >= 2  # large accessible type
    for n, page in enumerate(r.pages, start=1):
        assert f"Page{n}of{pages}" in squash(page.extract_text())


# --- sign (place.public-signage) --------------------------------------------------------------


def test_sign_is_bilingual_and_shows_the_facts(manifest: dict[str, Any]) -> None:
    doc = sign(manifest, NOTICE_URL)
    assert (doc.kind, doc.lang) == ("sign", "zh-en")
    text = pdf_text(doc)
    op = manifest["operator"]
    assert_in(["人脸识别区域", "Face recognition in use", "门禁通行", "Access control",
               op["name"], op["contact"], manifest["location"]["capture_area"],
               "您可以选择", "You may choose", manifest["alternative"]["description"],
               "365 天", "365 days", NOTICE_URL, "cn-draft-2023", "notice.required"], text)
    assert len(reader(doc).pages) == 1
    # an office is no public place: place.public-signage is cited only where it binds
    assert "place.public-signage" not in text
    public = {**manifest, "location": {**manifest["location"], "public_place": True}}
    assert "place.public-signage" in pdf_text(sign(public, NOTICE_URL))
    one = pdf_text(sign({**manifest, "retention_days": 1}, NOTICE_URL))
    assert "1day" in one and "1days" not in one  # (the text comes without spaces)


def test_sign_qr_encodes_exactly_the_notice_url(manifest: dict[str, Any]) -> None:
    qr = sign_qr(NOTICE_URL)
    again = segno.make_qr(NOTICE_URL, error=qr.error, version=qr.version, mask=qr.mask,
                          boost_error=False)
    assert qr.matrix == again.matrix
    assert qr.matrix != sign_qr(NOTICE_URL + "x").matrix
    assert qr.mode == "byte"


def test_sign_pdf_draws_the_qr_as_vector_form(manifest: dict[str, Any]) -> None:
    page = reader(sign(manifest, NOTICE_URL)).pages[0]
    resources: Any = page["/Resources"]
    xobjects = resources["/XObject"]
    forms = [x.get_object() for x in xobjects.values()
             if x.get_object()["/Subtype"] == "/Form"]
    assert len(forms) == 1
    stream = forms[0].get_data().decode("latin-1")
    runs = list(dark_runs(sign_qr(NOTICE_URL)))
    # One rectangle per run of dark modules, plus the white quiet-zone background.
    assert stream.count(" re") == len(runs) + 1


def test_sign_html_embeds_the_qr_as_svg(manifest: dict[str, Any]) -> None:
    doc = sign(manifest, NOTICE_URL)
    assert '<html lang="zh-Hans">' in doc.html
    assert '<svg' in doc.html and 'class="qr"' in doc.html
    path = re.search(r' d="([^"]+)"', sign_qr(NOTICE_URL).svg_inline(scale=1, border=4))
    assert path is not None and path.group(1) in doc.html
    assert f'href="{NOTICE_URL}"' in doc.html
    assert 'lang="en"' in doc.html  # the English half is tagged


@pytest.mark.parametrize(("size", "box"), [("A4", A4), ("A3", A3)])
def test_sign_page_size(manifest: dict[str, Any], size: str, box: tuple[float, float]) -> None:
    doc = sign(manifest, NOTICE_URL, size=size)
    page = reader(doc).pages[0]
    assert float(page.mediabox.width) == pytest.approx(box[0], abs=0.1)
    assert float(page.mediabox.height) == pytest.approx(box[1], abs=0.1)
    assert f"size: {size}" in doc.html


def test_sign_with_long_texts_stays_on_one_page(manifest: dict[str, Any]) -> None:
    m = copy.deepcopy(manifest)
    m["alternative"]["description"] = "Show the staff badge at the guard desk. " * 30
    m["location"]["capture_area"] = "The whole lobby and the corridor beyond it. " * 10
    assert len(reader(sign(m, NOTICE_URL)).pages) == 1


def test_sign_in_public_place_states_public_security_necessity(
        manifest: dict[str, Any]) -> None:
    m = copy.deepcopy(manifest)
    m["location"].update(public_place=True, public_security_necessity="Station security")
    text = pdf_text(sign(m, NOTICE_URL))
    assert_in(["公共安全必要性", "Public-security necessity", "Station security"], text)


def test_sign_refuses_unknown_size(manifest: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="size"):
        sign(manifest, NOTICE_URL, size="A5")
    with pytest.raises(ValueError, match="URL"):
        sign(manifest, "")


# --- impact assessment (pia.before-use) -------------------------------------------------------

PIA_HEADINGS = [
    "处理目的、处理方式的合法性、正当性和必要性",
    "Lawfulness, legitimacy and necessity of the purpose and method",
    "对个人权益的影响及保护措施是否有效",
    "Impact on personal rights and whether the mitigations work",
    "泄露、篡改、丢失或滥用的风险",
    "Risks of leakage, tampering, loss or misuse",
    "保护措施是否合法、有效并与风险程度相适应",
    "Whether the protections are lawful, effective and proportionate",
]


@pytest.mark.parametrize("lang", LANGS)
def test_impact_assessment(manifest: dict[str, Any], lang: str) -> None:
    a = assessment(manifest)
    doc = impact_assessment(a, manifest, lang)
    assert doc.kind == "pia"
    text = pdf_text(doc)
    op = manifest["operator"]
    assert_in([op["name"], op["contact"], PURPOSE[lang], a["assessor"], a["assessed_on"],
               a["keep_until"], a["conclusion"], *a["sections"].values(), *PIA_HEADINGS,
               "pia.before-use", "cn-draft-2023"], text)
    if lang == "zh":
        assert_in(["影响评估", "评估结论", "1:1 验证"], text)
    else:
        assert_in(["impact assessment", "Conclusion", "1:1 verification"], text)


# --- filing dossier (filing.threshold) --------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_filing_dossier(manifest: dict[str, Any], lang: str) -> None:
    d = dossier(manifest)
    doc = filing_dossier(d, lang)
    assert doc.kind == "filing"
    text = pdf_text(doc)
    op = manifest["operator"]
    assert_in([op["name"], op["contact"], PURPOSE[lang], manifest["id"], "10,234", "10,000",
               "2025-09-15", "2025-10-31", "Templates encrypted at rest",
               "Tamper-evident audit trail", "Templates expire after the retention period",
               "Proportionate to the need; may go live.", "filing.threshold",
               "cn-draft-2023"], text)
    if lang == "zh":
        assert_in(["备案", "运营者基本情况", "处理目的和处理方式", "安全保护措施", "处理规则",
                   "个人信息保护影响评估", "地市级以上网信部门", "办公区出入口", "365 天"], text)
    else:
        assert_in(["filing dossier", "Operator details", "Purposes and methods",
                   "Security measures", "Processing rules", "Impact assessments",
                   "City-level cyberspace administration", "Office entrance", "365 days"],
                  text)


@pytest.mark.parametrize("lang", LANGS)
def test_long_dossier_wraps_and_numbers_its_pages(manifest: dict[str, Any], lang: str) -> None:
    m = copy.deepcopy(manifest)
    m["name"] = "A very long deployment name that must wrap inside its table cell " * 3
    doc = filing_dossier(dossier(m, count=25), lang)
    r = reader(doc)
    pages = len(r.pages)
    assert pages > 1
    for n, page in enumerate(r.pages, start=1):
        page_text = squash(page.extract_text())
        expected = f"第{n}页，共{pages}页" if lang == "zh" else f"Page{n}of{pages}"
        assert expected in page_text
    text = pdf_text(doc)
    assert_in([f"{manifest['id']}-0", f"{manifest['id']}-24"], text)


# --- deletion receipt (consent.withdraw, rights.delete) ---------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_deletion_receipt(lang: str) -> None:
    rc = receipt()
    doc = deletion_receipt(rc, lang)
    assert doc.kind == "receipt"
    text = pdf_text(doc)
    assert_in(["subj-7f3a9c", "tpl-001", "tpl-002", "hq-office-door", RECEIPT_SHA,
               "2025-10-02T10:15:00+08:00", "consent.withdraw"], text)
    if lang == "zh":
        assert_in(["删除", "回执", "撤回同意", "检索索引条目"], text)
    else:
        assert_in(["deletion receipt", "Consent withdrawn", "Search index entries"], text)
    assert len(reader(doc).pages) == 1
    assert "Page1of1" not in text and "第1页" not in text  # no numbers on a one-page document


def test_delete_request_receipt_serves_rights_delete() -> None:
    rc = receipt()
    rc.update(operation="subject.delete", rules=[])
    text = pdf_text(deletion_receipt(rc, "en"))
    assert_in(["at the person's request", "rights.delete"], text)


# --- escaping, missing fields, languages, labels ----------------------------------------------

HOSTILE = '<script>alert("x")</script> & <b>bold</b>'


def test_html_escapes_input(manifest: dict[str, Any]) -> None:
    m = copy.deepcopy(manifest)
    m["name"] = HOSTILE
    m["operator"]["name"] = HOSTILE
    c = notice_content(m)
    docs = [notice(c, "zh"), notice(c, "en"), sign(m, NOTICE_URL),
            impact_assessment(assessment(m), m, "en"), filing_dossier(dossier(m), "zh")]
    for doc in docs:
        assert "<script>" not in doc.html
        assert "&lt;script&gt;" in doc.html
        assert "<b>bold</b>" not in doc.html
        # the PDF shows the text literally too, and is not confused by the markup
        assert squash('<script>alert("x")</script>') in pdf_text(doc)


def test_sign_links_only_web_urls(manifest: dict[str, Any]) -> None:
    doc = sign(manifest, "javascript:alert(1)")
    assert "href=" not in doc.html.split("<main>")[1]
    assert "javascript:alert(1)" in doc.html  # printed, not linked


def test_missing_optional_fields_print_a_dash(manifest: dict[str, Any]) -> None:
    c = notice_content(manifest)
    c.update(alternative=None, digest=None, url=None)
    m = copy.deepcopy(manifest)
    m.pop("legal_basis", None)
    m["alternative"] = None
    d = dossier(manifest)
    d.update(crossed_on=None, due_on=None, reasons=[], security_measures=[],
             processing_rules=[], assessments=[], deployments=[])
    rc = {"operation": "subject.delete", "subject": "subj-1", "at": "2025-10-02T10:15:00Z",
          "deleted": {"templates": [], "index_entries": 0}, "deployments": [], "rules": [],
          "sha256": "00"}
    docs = [notice(c, "zh"), notice(c, "en"), sign(m, NOTICE_URL),
            impact_assessment({"deployment": m["id"]}, m, "zh"), filing_dossier(d, "en"),
            deletion_receipt(rc, "zh")]
    for doc in docs:
        assert "—" in doc.html
        assert "—" in pdf_text(doc)


def test_empty_inputs_do_not_crash() -> None:
    for doc in (notice({}, "en"), impact_assessment({}, {}, "zh"), filing_dossier({}, "zh"),
                deletion_receipt({}, "en"), sign({}, NOTICE_URL)):
        assert doc.pdf().startswith(b"%PDF")
        assert "—" in doc.html


def test_unknown_codes_fall_back_to_the_code(manifest: dict[str, Any]) -> None:
    m = copy.deepcopy(manifest)
    m["purpose"] = "crowd_counting"
    m["location"]["type"] = "rooftop"
    text = pdf_text(impact_assessment(assessment(m) | {"purpose": None}, m, "zh"))
    assert_in(["crowd_counting", "rooftop"], text)


def test_long_statements_wrap_inside_the_table(manifest: dict[str, Any]) -> None:
    c = notice_content(manifest)
    c["necessity"] = "必要性说明很长，" * 150 + " END-OF-NECESSITY"
    doc = notice(c, "zh")
    text = pdf_text(doc)
    assert "END-OF-NECESSITY" in text
    assert len(reader(doc).pages) >= 2


def test_bilingual_documents(manifest: dict[str, Any]) -> None:
    text = pdf_text(notice(notice_content(manifest), "zh-en"))
    assert_in(["人脸识别告知书", "Face recognition notice", "门禁通行", "Access control",
               "您可以拒绝人脸识别", "You may refuse face recognition"], text)


def test_unknown_language_is_refused(manifest: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="language"):
        notice(notice_content(manifest), "fr")
    with pytest.raises(ValueError, match="language"):
        deletion_receipt(receipt(), "zh-TW")


def test_same_input_same_bytes(manifest: dict[str, Any]) -> None:
    a = deletion_receipt(receipt(), "zh").pdf()
    b = deletion_receipt(receipt(), "zh").pdf()
    assert a == b


def test_rule_pack_line_lists_only_the_packs_rules(manifest: dict[str, Any]) -> None:
    c = notice_content(manifest) | {"rule_pack": "cn-draft-2023"}
    draft = pdf_text(notice(c, "en"))
    final = pdf_text(notice(c | {"rule_pack": "cn-2025"}, "en"))
    assert "notice.accessible" not in draft  # a cn-2025 rule (Measures Art. 5)
    assert "notice.accessible" in final
    assert "cn-2025" in final and "cn-draft-2023" in draft
