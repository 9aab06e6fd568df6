"""The rule catalogue: every rule of ``RULES.md`` in one place, keyed by its stable id.

Each rule names its source per rule pack, a bilingual title, and what would make a refused
request lawful. The checks themselves live in ``policy.checks``; the parameters (ages, lists,
thresholds) in ``policy.packs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DRAFT = "cn-draft-2023"
FINAL = "cn-2025"


@dataclass(frozen=True)
class Rule:
    id: str
    sources: dict[str, str]  # pack name -> article citation; a pack absent here lacks the rule
    title_en: str
    title_zh: str
    remedy_en: str = ""
    remedy_zh: str = ""
    advisory: bool = False
    tags: tuple[str, ...] = field(default=())

    def in_pack(self, pack: str) -> bool:
        return pack in self.sources


def _both(article_draft: str, article_final: str) -> dict[str, str]:
    return {DRAFT: article_draft, FINAL: article_final}


_CATALOGUE = [
    Rule("purpose.declared", _both("Draft Art. 4", "Measures Art. 4"),
         "Every deployment and operation names a specific purpose and its necessity",
         "每个部署和操作须说明特定目的及其必要性",
         "declare a purpose from the closed list and a necessity statement",
         "从封闭列表中声明目的并提供必要性说明"),
    Rule("purpose.bound", _both("PIPL Art. 14", "PIPL Art. 14"),
         "A template is used only for the purposes and deployments its consent covers",
         "人脸模板仅可用于同意所涵盖的目的和部署",
         "obtain a new consent for this purpose and deployment",
         "就该目的和部署重新取得同意"),
    Rule("nonbiometric.preferred", {DRAFT: "Draft Art. 4"},
         "Where a non-biometric method meets the need, a reason for using faces is recorded",
         "非生物特征方式可满足需要时，须记录使用人脸的理由",
         "record why face recognition is used instead of the non-biometric method",
         "记录使用人脸识别而非非生物特征方式的理由"),
    Rule("national-channel.encouraged", {FINAL: "Measures Art. 11"},
         "Identity verification may use the national identity authentication service",
         "身份核验可使用国家网络身份认证公共服务", advisory=True),
    Rule("scope.rnd-excluded", {FINAL: "Measures Art. 2"},
         "Research or training data never flows into an operational gallery",
         "研发或算法训练数据不得流入业务人脸库",
         "enrol from a live capture under a consent for this deployment",
         "在本部署的同意下通过现场采集注册"),
    Rule("notice.required", _both("PIPL Arts. 17, 30", "PIPL Arts. 17, 30; Measures Art. 5"),
         "Before capture the person was shown a versioned notice",
         "采集前须向个人告知版本化的告知书",
         "show the deployment's current notice and record its version in the consent",
         "出示部署的现行告知书并在同意记录中记录其版本"),
    Rule("notice.accessible", {FINAL: "Measures Art. 5"},
         "Notices and the alternative are usable by people with disabilities and elderly people",
         "告知书和替代方式须便于残障人士和老年人使用",
         "provide an accessible notice and alternative", "提供无障碍告知书和替代方式"),
    Rule("consent.separate", _both("Draft Art. 5; PIPL Art. 29", "PIPL Art. 29"),
         "Processing face data on the basis of consent needs a separate consent record",
         "基于同意处理人脸信息须取得单独同意",
         "record a separate consent of this subject for this deployment and purpose",
         "记录该个人就该部署和目的作出的单独同意"),
    Rule("consent.guardian-under-14", _both("PIPL Art. 31", "PIPL Art. 31; Measures Art. 6"),
         "A person under 14 needs a guardian's consent",
         "不满十四周岁的个人须取得其监护人同意",
         "record the guardian's identity and relationship with the consent",
         "在同意记录中登记监护人身份及关系"),
    Rule("consent.withdraw", _both("PIPL Arts. 15, 47", "PIPL Arts. 15, 47"),
         "Withdrawal stops processing at once and deletes the templates everywhere",
         "撤回同意立即停止处理并删除所有人脸模板"),
    Rule("consent.lawful-basis", _both("PIPL Art. 13", "PIPL Art. 13"),
         "Processing without consent needs a recorded legal basis",
         "无同意的处理须有记录的法律依据",
         "record the statute that mandates face verification, or obtain consent",
         "记录要求人脸核验的法律条款，或取得同意"),
    Rule("alternative.required", _both("Draft Art. 6", "Measures Art. 10"),
         "Every deployment offers a non-biometric alternative reaching the same outcome",
         "每个部署须提供可达到同样结果的非生物特征替代方式",
         "name a non-biometric alternative (card, PIN, ID document check, staff check)",
         "提供非生物特征替代方式（门卡、密码、证件核验、人工核验）"),
    Rule("alternative.building-access", {DRAFT: "Draft Art. 10"},
         "Building managers may not make face recognition the only way in or out",
         "建筑物管理者不得将人脸识别作为出入的唯一方式",
         "offer another way in or out", "提供其他出入方式"),
    Rule("coercion.prohibited", _both("Draft Art. 7", "Measures Art. 10"),
         "No forcing, misleading or coercing into face verification",
         "不得强迫、误导、欺诈、胁迫个人接受人脸识别",
         "ask for the person's explicit choice for this transaction",
         "就本次业务征得个人的明确选择"),
    Rule("major-interest.manual-review", {DRAFT: "Draft Art. 13"},
         "For major personal interests a face match is only auxiliary to a manual check",
         "涉及重大个人利益的业务，人脸识别仅作为人工核验的辅助",
         "record a named staff member's manual identity check",
         "记录具名工作人员的人工身份核验"),
    Rule("place.private-space", _both("Draft Art. 9", "Measures Art. 13"),
         "No capture device in hotel rooms, baths, changing or fitting rooms, toilets",
         "不得在宾馆客房、公共浴室、更衣室、卫生间等私密场所安装人脸识别设备",
         "this place cannot be used for face recognition; no override exists",
         "该场所不得使用人脸识别，不可豁免"),
    Rule("place.public-signage", _both("Draft Art. 8; PIPL Art. 26", "PIPL Art. 26"),
         "Public-place deployments state public-security necessity, capture area and signs",
         "公共场所部署须说明维护公共安全的必要性、采集区域并设置显著提示标识",
         "state the public-security necessity, the capture area and the sign evidence",
         "说明公共安全必要性、采集区域并提供提示标识的证据"),
    Rule("place.capture-area", _both("Draft Art. 8", "Measures Art. 13"),
         "Every device records its capture area, reasonable for the actual need",
         "每台设备须登记其合理的采集区域",
         "record the capture area", "登记采集区域"),
    Rule("remote-id.restricted", {DRAFT: "Draft Art. 11"},
         "Remote identification without awareness only for national security, public safety "
         "or emergencies", "远距离、无感式识别仅限于国家安全、公共安全或紧急情况",
         "limit remote identification to a permitted purpose, time, place and people",
         "将远距离识别限于允许的目的、时间、地点和人员"),
    Rule("devices.annual-test", {DRAFT: "Draft Art. 16"},
         "Devices get a security test every 12 months", "设备每年至少进行一次安全测试",
         "record this year's device security test", "记录本年度的设备安全测试"),
    Rule("attributes.sensitive", {DRAFT: "Draft Art. 12", FINAL: "default policy"},
         "No analysis of race, ethnicity, religion, health, social class or other sensitive "
         "traits", "不得分析种族、民族、宗教信仰、健康状况、社会阶层等敏感个人信息",
         "remove the sensitive attributes from the request",
         "从请求中删除敏感属性"),
    Rule("images.no-retention", _both("GB/T 35273 §6.3", "GB/T 35273 §6.3"),
         "Original face images are decoded in memory and never kept",
         "原始人脸图像仅在内存中处理，不予保存"),
    Rule("storage.separate-identity", _both("GB/T 35273 §6.3", "GB/T 35273 §6.3"),
         "Templates and identity data live apart, linked only by a pseudonym",
         "人脸模板与身份信息分开存储，仅以假名标识关联"),
    Rule("storage.on-device", {FINAL: "Measures Art. 8"},
         "Face data stays on the recognising system unless a law or separate consent allows",
         "人脸信息应存储于识别设备内，法律另有规定或取得单独同意的除外",
         "cite the law or the separate consent that allows the export",
         "说明允许导出的法律或单独同意"),
    Rule("retention.minimum", _both("PIPL Arts. 19, 47", "PIPL Arts. 19, 47"),
         "Every template has a retention end and is deleted when it passes",
         "人脸模板有保存期限，期满自动删除"),
    Rule("security.controls", _both("Draft Art. 15", "Measures Art. 14"),
         "Encryption, audit, access control and authorisation management are in place",
         "采取加密、安全审计、访问控制、授权管理等安全措施",
         "use a key with a role that may perform this operation",
         "使用具有该操作权限的角色密钥"),
    Rule("pia.before-use", _both("PIPL Arts. 55-56", "PIPL Arts. 55-56; Measures Art. 9"),
         "An impact assessment exists before a deployment goes live",
         "部署上线前须完成个人信息保护影响评估",
         "record an impact assessment for this deployment", "为该部署记录影响评估"),
    Rule("filing.threshold", {DRAFT: "Draft Art. 17", FINAL: "Measures Art. 15"},
         "Filing with the cyberspace authority within 30 working days of the threshold",
         "达到数量门槛后30个工作日内向网信部门备案"),
    Rule("filing.change", {FINAL: "Measures Art. 15"},
         "A substantive change starts its own 30-working-day filing clock",
         "备案信息发生实质变化的，应在30个工作日内办理变更"),
    Rule("filing.deregister", {FINAL: "Measures Art. 15"},
         "Ending face recognition starts a deregistration clock and deletes the face data",
         "终止使用人脸识别的，应办理注销备案并删除人脸信息"),
    Rule("rights.access", _both("PIPL Arts. 44-45", "PIPL Arts. 44-45"),
         "A person can learn what face data is held about them", "个人有权查阅其人脸信息"),
    Rule("rights.delete", _both("PIPL Art. 47", "PIPL Art. 47"),
         "A person can have their face data deleted", "个人有权要求删除其人脸信息"),
]

RULES: dict[str, Rule] = {r.id: r for r in _CATALOGUE}


def get_rule(rule_id: str) -> Rule:
    try:
        return RULES[rule_id]
    except KeyError:
        raise KeyError(f"unknown rule id {rule_id!r}") from None
