"""Words for the documents: labels for the rule packs' closed-list codes, and the fixed wording.

Every entry is a ``(zh, en)`` pair. A code that has no label here is shown as the code itself, so
a new value in a rule pack never breaks a document; it only reads less well until it is added.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from facegate.policy.packs import PURPOSE_NAMES

LANGS: Final = ("zh", "en", "zh-en")
DASH: Final = "—"  # what a missing optional field is shown as

Pair = tuple[str, str]


@dataclass(frozen=True)
class Bi:
    """A text in both languages, for bilingual documents (``zh-en``) and bilingual headings."""

    zh: str
    en: str


Text = str | Bi


def pick(lang: str, zh: str, en: str) -> Text:
    """One language's text, or both for ``zh-en``."""
    if lang == "zh":
        return zh
    if lang == "en":
        return en
    return Bi(zh, en)


def plain(text: Text, sep: str = " / ") -> str:
    """A text as one string (both languages joined by ``sep`` when bilingual)."""
    return text if isinstance(text, str) else f"{text.zh}{sep}{text.en}"


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"unknown document language {lang!r}; known: {', '.join(LANGS)}")
    return lang


# --- closed-list codes (policy.packs) ---------------------------------------------------------

PURPOSES: Final[Mapping[str, Pair]] = PURPOSE_NAMES  # their home is the rule pack's list

LOCATION_TYPES: Final[Mapping[str, Pair]] = {
    "office_entrance": ("办公区出入口", "Office entrance"),
    "building_entrance": ("楼宇出入口", "Building entrance"),
    "residential_entrance": ("住宅小区出入口", "Residential entrance"),
    "reception": ("前台", "Reception"),
    "counter": ("柜台", "Counter"),
    "checkout": ("收银台", "Checkout"),
    "gate": ("闸机", "Gate"),
    "platform": ("站台", "Platform"),
    "hall": ("大厅", "Hall"),
    "classroom": ("教室", "Classroom"),
    "campus_entrance": ("校园出入口", "Campus entrance"),
    "street": ("街道", "Street"),
    "square": ("广场", "Square"),
    "lobby": ("大堂", "Lobby"),
    "kiosk": ("自助终端", "Self-service kiosk"),
    "service_window": ("服务窗口", "Service window"),
    "other": ("其他", "Other"),
    "hotel_room": ("宾馆客房", "Hotel guest room"),
    "public_bath": ("公共浴室", "Public bath"),
    "bathroom": ("浴室", "Bathroom"),
    "changing_room": ("更衣室", "Changing room"),
    "fitting_room": ("试衣间", "Fitting room"),
    "toilet": ("卫生间", "Toilet"),
    "dormitory_room": ("宿舍房间", "Dormitory room"),
    "medical_examination_room": ("诊疗检查室", "Medical examination room"),
}

VENUES: Final[Mapping[str, Pair]] = {
    "hotel": ("宾馆", "Hotel"),
    "bank": ("银行", "Bank"),
    "railway_station": ("火车站", "Railway station"),
    "airport": ("机场", "Airport"),
    "sports_venue": ("体育场馆", "Sports venue"),
    "exhibition_hall": ("展览馆", "Exhibition hall"),
    "museum": ("博物馆", "Museum"),
    "art_gallery": ("美术馆", "Art gallery"),
    "library": ("图书馆", "Library"),
    "residential_property": ("住宅小区", "Residential property"),
    "office": ("办公场所", "Office"),
    "school": ("学校", "School"),
    "hospital": ("医院", "Hospital"),
    "retail": ("商业零售场所", "Retail"),
    "government_service": ("政务服务场所", "Government service centre"),
    "public_street": ("公共道路", "Public street"),
    "transport": ("交通场站", "Transport hub"),
    "factory": ("工厂", "Factory"),
    "other": ("其他", "Other"),
}

MODES: Final[Mapping[str, Pair]] = {
    "verify": ("1:1 验证", "1:1 verification"),
    "identify": ("1:N 辨识", "1:N identification"),
}

# How the notice describes the method, keyed by mode; the service's English wording maps back.
METHODS: Final[Mapping[str, Pair]] = {
    "verify": ("与您本人的人脸模板进行 1:1 比对验证",
               "1:1 verification against your own template"),
    "identify": ("与已登记的人脸库进行 1:N 比对辨识",
                 "1:N identification against the enrolled gallery"),
}

ALTERNATIVES: Final[Mapping[str, Pair]] = {
    "badge_at_guard_desk": ("在门卫处出示工牌", "Badge at the guard desk"),
    "badge": ("出示工牌", "Staff badge"),
    "card": ("刷卡", "Card"),
    "access_card": ("门禁卡", "Access card"),
    "pin": ("输入密码", "PIN"),
    "password": ("输入密码", "Password"),
    "id_document_check": ("查验身份证件", "Identity document check"),
    "staff_check": ("工作人员人工核验", "Check by staff"),
    "manual_check": ("人工核验", "Manual check"),
    "qr_code": ("出示二维码", "QR code"),
}

PACKS: Final[Mapping[str, Pair]] = {
    "cn-draft-2023": ("《人脸识别技术应用安全管理规定（试行）（征求意见稿）》（2023）",
                      "Provisions on the Security Management of Face Recognition Technology "
                      "Applications (Trial), Draft for Comment (2023)"),
    "cn-2025": ("《人脸识别技术应用安全管理办法》（2025）",
                "Measures for the Security Management of Face Recognition Technology "
                "Applications (2025)"),
}

AUTHORITIES: Final[Mapping[str, Pair]] = {
    "city-level cyberspace administration or above": (
        "地市级以上网信部门", "City-level cyberspace administration or above"),
    "provincial-level cyberspace administration or above": (
        "省级以上网信部门", "Provincial-level cyberspace administration or above"),
}

OPERATIONS: Final[Mapping[str, Pair]] = {
    "consent.withdraw": ("撤回同意并删除人脸信息", "Consent withdrawn; face data deleted"),
    "subject.delete": ("应个人请求删除人脸信息", "Face data deleted at the person's request"),
}

# The packs each rule is in (RULES.md); a document lists only the rules its pack has.
RULE_PACKS: Final[Mapping[str, tuple[str, ...]]] = {
    "notice.required": ("cn-draft-2023", "cn-2025"),
    "notice.accessible": ("cn-2025",),
    "alternative.required": ("cn-draft-2023", "cn-2025"),
    "place.public-signage": ("cn-draft-2023", "cn-2025"),
    "place.capture-area": ("cn-draft-2023", "cn-2025"),
    "pia.before-use": ("cn-draft-2023", "cn-2025"),
    "filing.threshold": ("cn-draft-2023", "cn-2025"),
    "security.controls": ("cn-draft-2023", "cn-2025"),
    "consent.withdraw": ("cn-draft-2023", "cn-2025"),
    "rights.access": ("cn-draft-2023", "cn-2025"),
    "rights.delete": ("cn-draft-2023", "cn-2025"),
    "retention.minimum": ("cn-draft-2023", "cn-2025"),
    "images.no-retention": ("cn-draft-2023", "cn-2025"),
}


def label(table: Mapping[str, Pair], code: Any, lang: str) -> Text:
    """The human label of a closed-list code; unknown codes fall back to the code itself."""
    if code is None or code == "":
        return DASH
    pair = table.get(str(code))
    if pair is None:
        return str(code)
    return pick(lang, *pair)


# --- fixed wording ----------------------------------------------------------------------------

WORDS: Final[Mapping[str, Pair]] = {
    # common
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    "days": ("{n} 天", "{n} days"),
    "day": ("{n} 天", "{n} day"),
    "page": ("第 {n} 页，共 {total} 页", "Page {n} of {total}"),
    "rules_line": ("规则包：{pack}；适用规则：{rules}", "Rule pack: {pack}; rules served: {rules}"),
    "rules_line_bi": ("规则包 Rule pack: {pack}; 适用规则 Rules served: {rules}", ""),
    "operator": ("运营者", "Operator"),
    "operator_name": ("名称", "Name"),
    "contact": ("联系方式", "Contact"),
    "deployment": ("部署", "Deployment"),
    "deployment_id": ("部署编号", "Deployment id"),
    "deployment_name": ("部署名称", "Deployment name"),
    "purpose": ("目的", "Purpose"),
    "method": ("方式", "Method"),
    "mode": ("识别方式", "Mode"),
    "location": ("地点", "Location"),
    "venue": ("场所", "Venue"),
    "public_place": ("公共场所", "Public place"),
    "capture_area": ("采集区域", "Capture area"),
    "retention": ("保存期限", "Retention period"),
    "alternative": ("替代方式", "Alternative"),
    "legal_basis": ("法律依据", "Legal basis"),
    "public_security_necessity": ("维护公共安全的依据", "Public security basis"),
    # notice
    "notice_title": ("人脸识别告知书", "Face recognition notice"),
    "notice_intro": (
        "在采集您的人脸信息之前，请阅读本告知书。只有在您同意后才会处理您的人脸信息。",
        "Please read this notice before your face is captured. Your face data is processed only "
        "after you agree."),
    "notice_who": ("谁处理您的人脸信息", "Who processes your face data"),
    "notice_what": ("目的、方式和保存期限", "Purpose, method and retention period"),
    "notice_why": ("必要性及对您的影响", "Why it is necessary and its impact on you"),
    "necessity": ("必要性", "Why it is necessary"),
    "impact": ("对您的影响", "Impact on you"),
    "images_kept": ("原始人脸图像", "Original face images"),
    "images_not_kept": ("不保存：计算出人脸模板后立即丢弃",
                        "Not kept: discarded as soon as the face template is computed"),
    "images_kept_yes": ("经您单独同意后加密保存", "Kept, encrypted, with your separate consent"),
    "notice_choice": ("您可以选择不使用人脸识别", "You may choose not to use face recognition"),
    "notice_choice_text": ("拒绝人脸识别不会使您失去任何服务。",
                           "Declining face recognition costs you no service."),
    "alt_description": ("说明", "How"),
    "notice_rights": ("如何行使您的权利", "How to exercise your rights"),
    "right_withdraw": ("撤回同意：随时可以，一步完成；撤回后立即停止处理并删除您的人脸模板。",
                       "Withdraw consent: at any time, in one step; processing stops at once and "
                       "your face templates are deleted."),
    "right_access": ("查阅：了解所持有的您的人脸信息及其目的和部署。",
                     "Access: learn what face data is held about you, for which purposes and "
                     "deployments."),
    "right_delete": ("删除：要求删除您的人脸信息。", "Delete: have your face data deleted."),
    "right_alternative": ("选择替代方式：随时改用上述替代方式，服务不受影响。",
                          "Choose the alternative: use the alternative above at any time, with no "
                          "loss of service."),
    "right_contact": ("请通过以下方式联系运营者：{contact}",
                      "Contact the operator to exercise these rights: {contact}"),
    "notice_version": ("告知书版本", "Notice version"),
    "version": ("版本", "Version"),
    "digest": ("摘要（SHA-256）", "Digest (SHA-256)"),
    "notice_url": ("在线版本", "Online version"),
    # sign
    "sign_title": ("人脸识别区域", "Face recognition in use"),
    "sign_you_may_choose": ("您可以选择", "You may choose"),
    "sign_scan": ("扫码阅读完整告知书", "Scan to read the full notice"),
    "sign_public_security": ("公共安全必要性", "Public-security necessity"),
    # pia
    "pia_title": ("个人信息保护影响评估报告（人脸识别）",
                  "Personal information protection impact assessment (face recognition)"),
    "pia_basis": ("依据：《个人信息保护法》第五十五条、第五十六条。",
                  "Under PIPL Articles 55 and 56."),
    "pia_subject": ("评估对象", "What was assessed"),
    "pia_record": ("评估记录", "Assessment record"),
    "assessed_on": ("评估日期", "Assessed on"),
    "assessor": ("评估人", "Assessor"),
    "keep_until": ("保存至", "Keep until"),
    "pia_keep_note": ("本报告至少保存三年。", "This report is kept for at least three years."),
    "pia_lawfulness": ("一、处理目的、处理方式的合法性、正当性和必要性",
                       "1. Lawfulness, legitimacy and necessity of the purpose and method"),
    "pia_impact": ("二、对个人权益的影响及保护措施是否有效",
                   "2. Impact on personal rights and whether the mitigations work"),
    "pia_risks": ("三、泄露、篡改、丢失或滥用的风险",
                  "3. Risks of leakage, tampering, loss or misuse"),
    "pia_protections": ("四、保护措施是否合法、有效并与风险程度相适应",
                        "4. Whether the protections are lawful, effective and proportionate"),
    "conclusion": ("评估结论", "Conclusion"),
    # filing
    "filing_title": ("人脸识别技术应用备案材料", "Face recognition filing dossier"),
    "filing_summary": ("备案概要", "Filing summary"),
    "rule_pack": ("规则包", "Rule pack"),
    "authority": ("备案机关", "Filing authority"),
    "generated_on": ("生成日期", "Generated on"),
    "filing_operator": ("一、运营者基本情况", "1. Operator details"),
    "filing_purposes": ("二、处理目的和处理方式", "2. Purposes and methods"),
    "filing_counts": ("三、人脸信息数量", "3. Counts"),
    "persons": ("存储人脸信息的人数", "Persons whose face data is stored"),
    "threshold": ("备案门槛（人数）", "Filing threshold (persons)"),
    "crossed_on": ("达到门槛日期", "Threshold crossed on"),
    "due_on": ("备案截止日期", "Filing due on"),
    "due_note": ("自达到门槛之日起 30 个工作日内", "within 30 Chinese working days of crossing"),
    "due_provisional": ("暂定：最早可能的截止日期，待公布该年节假日安排后确定",
                        "provisional: the earliest possible date, until that year's holiday "
                        "schedule is published and loaded"),
    "reasons": ("需备案的原因", "Why filing is required"),
    "reason_persons": ("存储人脸信息的人数达到备案门槛",
                       "The number of persons whose face data is stored reached the threshold"),
    "reason_public_place": ("部署 {id} 设在公共场所", "Deployment {id} is in a public place"),
    "reason_public_place_named": ("部署“{name}”（{id}）设在公共场所",
                                  "Deployment “{name}” ({id}) is in a public place"),
    "filing_security": ("四、安全保护措施", "4. Security measures"),
    "filing_rules": ("五、处理规则", "5. Processing rules"),
    "filing_assessments": ("六、个人信息保护影响评估", "6. Impact assessments"),
    "filing_checkpoint": ("七、审计日志签名检查点", "7. Signed checkpoint of the audit trail"),
    "checkpoint_note": ("以下为生成本材料时对审计日志签署的检查点"
                        "（RFC 9162 默克尔树，Ed25519 签名）。"
                        "可据此离线核对此后导出的日志未被截断、改写或伪造。",
                        "The audit trail's checkpoint, signed when this dossier was made "
                        "(RFC 9162 Merkle tree, Ed25519). A later export of the trail can be "
                        "checked against it offline for truncation, rewriting or forgery."),
    "checkpoint_size": ("记录数", "Records"),
    "signed_at": ("签署时间", "Signed at"),
    "root_hash": ("默克尔根", "Merkle root"),
    "public_key": ("公钥", "Public key"),
    "signature": ("签名", "Signature"),
    "none": ("无", "None"),
    # receipt
    "receipt_title": ("人脸信息删除回执", "Face data deletion receipt"),
    "receipt_intro": ("本回执确认以下人脸信息已被删除。回执只包含假名编号，不包含人脸图像或模板。",
                      "This receipt confirms that the face data below was deleted. It names the "
                      "person only by a pseudonym and holds no face image or template."),
    "operation": ("操作", "Operation"),
    "subject": ("个人（假名编号）", "Person (pseudonym)"),
    "at": ("完成时间", "Completed at"),
    "deployments": ("涉及部署", "Deployments"),
    "receipt_deleted": ("已删除的数据", "What was deleted"),
    "templates": ("人脸模板", "Face templates"),
    "template_ids": ("模板编号", "Template ids"),
    "index_entries": ("检索索引条目", "Search index entries"),
    "key_destroyed": ("加密密钥已销毁", "Encryption key destroyed"),
    "identity_deleted": ("身份信息已删除", "Identity data deleted"),
    "key_rotated": ("加密密钥已轮换", "Encryption key rotated"),
    "receipt_integrity": ("完整性校验", "Integrity"),
    "sha256": ("回执 SHA-256", "Receipt SHA-256"),
}


def word(key: str, lang: str, **fmt: Any) -> Text:
    """A fixed wording in the document's language(s), with ``{placeholders}`` filled in."""
    zh, en = WORDS[key]
    if fmt:
        zh, en = zh.format(**fmt), en.format(**fmt)
    return pick(lang, zh, en)


def bi(key: str, **fmt: Any) -> Bi:
    """A fixed wording in both languages."""
    zh, en = WORDS[key]
    if fmt:
        zh, en = zh.format(**fmt), en.format(**fmt)
    return Bi(zh, en)
