"""The generated documents, in Simplified Chinese and English, as HTML and PDF: the notice and
the sign (public, no personal data), the impact assessment report, the filing dossier and
deletion receipts (the officer's)."""

from __future__ import annotations

import ipaddress
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from facegate import documents
from facegate.documents import Document
from facegate.errors import BadInput, Conflict, NotFound
from facegate.policy.packs import get_pack
from facegate.service import records
from facegate.service.actors import Actor
from facegate.service.audit_log import UowFactory
from facegate.service.clock import Clock
from facegate.service.deployments import Deployments
from facegate.service.filing import Filing
from facegate.service.gatekeeper import Gatekeeper
from facegate.service.views import assessment_view
from facegate.store.models import Deployment

DOCUMENT_KINDS = ("notice", "sign", "pia", "filing", "receipt")

SECURITY_MEASURES = [
    "Templates encrypted at rest with AES-256-GCM under a per-subject key, itself wrapped by a "
    "master key kept outside the data directory; deleting the key shreds every copy",
    "Identity data (reference, birth date) sealed and stored apart from templates, linked only "
    "by a pseudonym (storage.separate-identity)",
    "No original face image or video is kept: images are decoded in memory and dropped "
    "(images.no-retention)",
    "Role-based API keys (operator, officer, auditor); every operation passes the policy gate",
    "Append-only, SHA-256 hash-chained audit trail, verifiable offline (security.controls)",
    "Automatic deletion when retention ends, on withdrawal and when a deployment ends "
    "(retention.minimum, consent.withdraw)",
]
SECURITY_MEASURES_ZH = [
    "人脸模板以每人独立密钥进行 AES-256-GCM 加密存储，该密钥由存放于数据目录之外的主密钥封装；"
    "删除密钥即令所有副本不可读",
    "身份信息（编号、出生日期）加密后与人脸模板分开存储，仅以假名标识关联（storage.separate-identity）",
    "不保存原始人脸图像或视频：图像仅在内存中解码后即丢弃（images.no-retention）",
    "按角色授权的接口密钥（操作员、合规专员、审计员）；每项操作均经策略闸门判定",
    "只可追加、SHA-256 哈希链式的审计日志，可离线校验（security.controls）",
    "保存期限届满、撤回同意或部署终止时自动删除（retention.minimum、consent.withdraw）",
]
PROCESSING_RULES_ZH = [
    "人脸信息仅在已登记部署中用于声明的目的，并以单独同意或所援引的法律为依据"
    "（purpose.bound、consent.separate、consent.lawful-basis）",
    "任何人均可拒绝人脸识别并使用非生物特征替代方式，服务不受影响"
    "（alternative.required、coercion.prohibited）",
    "不满十四周岁者的人脸信息，仅在取得监护人同意并依处理者的未成年人信息处理规则处理"
    "（consent.guardian-under-14）",
    "撤回同意与删除请求即时执行并出具删除回执（consent.withdraw、rights.delete）；"
    "查阅请求依法答复（rights.access）",
    "不分析种族、民族、宗教信仰、健康状况、社会阶层等敏感个人特征（attributes.sensitive）",
]
PROCESSING_RULES = [
    "Face data is processed only for the declared purpose at the registered deployment, under "
    "a separate consent or a cited law (purpose.bound, consent.separate, consent.lawful-basis)",
    "Every person may refuse and use the non-biometric alternative with no loss of service "
    "(alternative.required, coercion.prohibited)",
    "Persons under 14 are processed only with a guardian's consent under the operator's rules "
    "for minors (consent.guardian-under-14)",
    "Withdrawal and deletion requests are carried out at once, with a deletion receipt "
    "(consent.withdraw, rights.delete); access requests are answered (rights.access)",
    "No analysis of race, ethnicity, religion, health, social class or other sensitive traits "
    "(attributes.sensitive)",
]


UrlProblem = Literal["scheme", "host", "local"]
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})  # IDNA label dots


def _ipv4(host: str) -> ipaddress.IPv4Address | None:
    """``host`` read as browsers and ``inet_aton`` read an IPv4 address: one to four parts,
    each decimal, octal (leading 0) or hex (0x), the last filling the remaining bytes (so
    ``127.1`` and ``2130706433`` are 127.0.0.1 and ``0`` is 0.0.0.0); ``None`` for a name."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = []
    for part in parts:
        base, digits = 10, part
        if part[:2] in ("0x", "0X"):
            base, digits = 16, part[2:] or "0"
        elif len(part) > 1 and part.startswith("0"):
            base, digits = 8, part[1:]
        try:
            values.append(int(digits, base) if digits.isalnum() and digits.isascii() else -1)
        except ValueError:
            return None
        if values[-1] < 0:
            return None
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        return None
    number = last
    for i, v in enumerate(head):
        number += v << (8 * (3 - i))
    return ipaddress.IPv4Address(number)


def _local(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif int(address) < 2**32 and not (address.is_loopback or address.is_unspecified):
            address = ipaddress.IPv4Address(int(address))  # the old ::a.b.c.d form
    return address.is_loopback or address.is_unspecified


def url_problem(url: str) -> UrlProblem | None:
    """Why people could not open ``url`` from a notice or a sign: ``"scheme"`` (not an
    http(s) address), ``"host"`` (no host), ``"local"`` (this machine only: localhost, a
    loopback or unspecified address in any spelling); ``None`` when none of these holds."""
    try:
        parts = urlsplit(url.strip())
        hostname = parts.hostname
    except ValueError:
        return "host"
    if parts.scheme.lower() not in ("http", "https"):
        return "scheme"
    host = unicodedata.normalize("NFKC", unquote(hostname or "")).translate(_DOTS)
    host = host.split("%", 1)[0].rstrip(".").lower()  # an IPv6 zone; a root-label dot
    if not host:
        return "host"
    if host == "localhost" or host.endswith(".localhost"):
        return "local"
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = (
            ipaddress.IPv6Address(host) if ":" in host else _ipv4(host))
    except ValueError:
        return "host"
    return "local" if address is not None and _local(address) else None


def unreachable(url: str) -> bool:
    """Whether people reading a notice or scanning a sign could never open ``url``: it points
    at this machine only, or it is no http(s) address with a host (:func:`url_problem`)."""
    return url_problem(url) is not None


@dataclass(frozen=True, kw_only=True)
class Documents:
    uow: UowFactory
    gate: Gatekeeper
    clock: Clock
    deployments: Deployments
    filing: Filing
    # Signs a checkpoint of the audit trail for the dossier, so a copy of the trail's signed
    # size and root sits with the regulator, where the database cannot rewrite it.
    checkpoint: Callable[[Actor], dict[str, Any]] | None = None

    def make(self, actor: Actor | None, kind: str, deployment_id: str | None = None,
             lang: str = "zh", size: str = "A4", receipt: dict[str, Any] | None = None,
             operator: str | None = None, draft: bool = False) -> Document:
        """Build a document: ``notice`` and ``sign`` are public (no personal data); the
        assessment, the dossier and receipts need the officer's role."""
        if kind not in DOCUMENT_KINDS:
            raise BadInput(f"kind must be one of {', '.join(DOCUMENT_KINDS)}")
        if lang not in ("zh", "en"):
            raise BadInput("lang must be zh or en")
        if kind not in ("notice", "sign"):
            if actor is None:
                raise BadInput("this document needs an authorised caller")
            self.gate.role(actor, "documents", deployment=deployment_id)
        if kind == "receipt":
            if not receipt or "sha256" not in receipt:
                raise BadInput("a deletion receipt is needed (the JSON a withdrawal or "
                               "deletion returned)")
            return documents.deletion_receipt(receipt, lang, tz=self.clock.tz)
        if kind == "filing":
            assert actor is not None
            return documents.filing_dossier(self._dossier(actor, lang, operator), lang,
                                            draft=draft, tz=self.clock.tz)
        if deployment_id is None:
            raise BadInput(f"a {kind} is made for a deployment: give its id")
        with self.uow() as uow:
            dep, manifest = records.deployment(uow.session, deployment_id)
            raw = manifest.model_dump(mode="json")
            last = records.assessment(uow.session, dep)
            pia = assessment_view(last) if last else None
        url = self.deployments.notice_url(deployment_id)
        problem = url_problem(url)
        if kind in ("notice", "sign") and not draft and problem is not None:
            raise _url_refused(kind, url, problem)
        if kind == "notice":
            content = self.deployments.notice(deployment_id) | {"url": url,
                                                                "rule_pack": dep.rule_pack}
            return documents.notice(content, lang, draft=draft)
        if kind == "sign":
            if size not in ("A4", "A3"):
                raise BadInput("size must be A4 or A3")
            return documents.sign(raw, url, size, draft=draft)
        if pia is None:
            raise NotFound(f"{deployment_id} has no impact assessment yet",
                           rules=["pia.before-use"])
        return documents.impact_assessment(pia, raw, lang, draft=draft)

    def _dossier(self, actor: Actor, lang: str, operator: str | None) -> dict[str, Any]:
        """One operator's dossier: the filing duty is each operator's own."""
        status = self.filing.status(actor, operator)
        pack = get_pack(self.gate.rule_pack)
        with self.uow() as uow:
            s = uow.session
            deps = [s.get(Deployment, d) for d in status["deployments"]]
            manifests = [dict(d.manifest) for d in deps if d is not None]
            assessments = [assessment_view(a) for a in
                           (records.assessment(s, d) for d in deps if d is not None)
                           if a is not None]
        named = next((m.get("operator") for m in manifests if m.get("operator")), None)
        operator_details = named or {"name": status["operator"]}
        task = next((t for t in status["tasks"] if t["kind"] == "filing"), None)
        return {"pack": pack.name, "authority": pack.params["filing_authority"],
                "generated_on": self.clock.today().isoformat(), "operator": operator_details,
                "persons": status["persons"], "threshold": status["threshold"],
                "crossed_on": status["crossed_on"],
                "due_on": task["due_on"] if task else None,
                "due_provisional": bool(task and task.get("due_provisional")),
                "reasons": status["reasons"], "deployments": manifests,
                "security_measures": SECURITY_MEASURES_ZH if lang == "zh" else SECURITY_MEASURES,
                "processing_rules": PROCESSING_RULES_ZH if lang == "zh" else PROCESSING_RULES,
                "assessments": assessments,
                "checkpoint": self.checkpoint(actor) if self.checkpoint else None}


def _url_refused(kind: str, url: str, problem: UrlProblem) -> Conflict:
    """Why a notice or sign cannot point people at ``url`` (built from the configured public
    address), in both languages (``notice.required``)."""
    why_en, why_zh = {
        "scheme": ("which is not an http:// or https:// address",
                   "该地址不是 http:// 或 https:// 地址"),
        "host": ("which names no host", "该地址没有主机名"),
        "local": ("an address only this machine can reach", "该地址只有本机可以访问"),
    }[problem]
    doc_zh = "告知书" if kind == "notice" else "标识"
    return Conflict(
        f"the {kind} would send people to {url}, {why_en}: set FACEGATE_PUBLIC_URL to the "
        "address people use (https://...), or ask for a draft (marked DRAFT, not for "
        "display)",
        message_zh=f"{doc_zh}将引导公众访问 {url}，{why_zh}：请将 FACEGATE_PUBLIC_URL 设置为公众"
                   "实际使用的地址（https://...），或申请草稿（标注“草稿”，不得张贴）。",
        rules=["notice.required"])
