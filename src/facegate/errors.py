"""Errors shared by every layer. Interfaces map them to HTTP statuses and CLI exit codes.

Every error is told in English (``message``) and in Chinese (``message_zh``): a raise may
give its own Chinese text; otherwise a refusal by the gate is told from its findings' Chinese
reasons and any other error by its kind's Chinese sentence (``zh``) followed by the titles
of the rules behind it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from facegate.policy.rules import RULES


def unique_clauses(clauses: Iterable[str]) -> list[str]:
    """``clauses`` stripped, without empty ones and without repeats, in their order."""
    return list(dict.fromkeys(c.strip() for c in clauses if c and c.strip()))


def refusal_messages(decision: dict[str, Any]) -> tuple[str, str] | None:
    """English and Chinese messages of a refusal from its decision's failed findings: each
    refusing rule once, followed by its distinct reasons (``rule: reason; reason``)."""
    failed = [f for f in decision.get("findings", []) if not f.get("passed", True)]
    if not failed:
        return None
    by_rule: dict[str, tuple[list[str], list[str]]] = {}
    for f in failed:
        en, zh = by_rule.setdefault(str(f.get("rule", "")), ([], []))
        reason = f.get("reason") or {}
        en.append(str(reason.get("en", "")))
        zh.append(str(reason.get("zh", "")))
    english = "; ".join(f"{rule}: {', '.join(unique_clauses(en))}"
                        for rule, (en, _) in by_rule.items())
    chinese = "；".join(f"{rule}：{'，'.join(unique_clauses(zh))}"
                       for rule, (_, zh) in by_rule.items() if unique_clauses(zh))
    return english, chinese


class FacegateError(Exception):
    """Base class. ``code`` is a stable machine-readable name; ``zh`` the Chinese sentence
    told when a raise gives no Chinese text of its own."""

    code = "error"
    zh = "发生了意外错误，未作任何更改。"
    http_status = 500
    exit_code = 1

    def __init__(self, message: str, *, rules: list[str] | None = None,
                 details: dict[str, Any] | None = None, message_zh: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh
        self.rules = list(rules or [])
        self.details = dict(details or {})

    def messages(self) -> tuple[str, str]:
        """The error in English and in Chinese, each without a repeated clause."""
        english = "; ".join(unique_clauses(self.message.split("; "))) or self.message
        chinese = self.message_zh or self.zh + "".join(
            f"{rule}：{RULES[rule].title_zh}。" for rule in self.rules if rule in RULES)
        decision = self.details.get("decision")
        if isinstance(decision, dict):
            told = refusal_messages(decision)
            if told is not None:
                english = told[0]
                chinese = self.message_zh or told[1] or chinese
        chinese = "；".join(unique_clauses(chinese.split("；"))) or chinese
        return english, chinese

    def to_dict(self) -> dict[str, Any]:
        english, chinese = self.messages()
        body: dict[str, Any] = {"error": self.code, "message": english, "message_zh": chinese}
        if self.rules:
            body["rules"] = self.rules
        if self.details:
            body.update(self.details)
        return body


class BadInput(FacegateError):
    """The request is malformed or its content cannot be used (HTTP 422, exit 2)."""

    code = "bad_input"
    zh = "请求格式有误或其内容无法使用。"
    http_status = 422
    exit_code = 2


class ImageTooLarge(BadInput):
    """Too many bytes or pixels (HTTP 413)."""

    code = "image_too_large"
    zh = "图像过大（字节数或像素数超出上限）。"
    http_status = 413


class UnsupportedImage(BadInput):
    """Not an image, or a format that is not accepted (HTTP 415)."""

    code = "unsupported_image"
    zh = "不是可接受格式的图像。"
    http_status = 415


class InvalidImage(BadInput):
    """An accepted format that cannot be decoded (truncated, corrupt)."""

    code = "invalid_image"
    zh = "图像已截断或损坏，无法解码。"


class ImageTooSmall(BadInput):
    """Fewer pixels on a side than a face needs; refused from the header (HTTP 422)."""

    code = "image_too_small"
    zh = "图像过小，无法容纳人脸。"


class ExtremeAspectRatio(BadInput):
    """Far longer than wide (or the reverse), as no photo of a face is; refused from the
    header (HTTP 422)."""

    code = "extreme_aspect_ratio"
    zh = "图像的长宽比过于悬殊，不是人脸照片。"


class NoFace(BadInput):
    code = "no_face"
    zh = "图像中未找到人脸。"


class TooManyFaces(BadInput):
    code = "too_many_faces"
    zh = "图像中的人脸过多。"


class SeveralFaces(TooManyFaces):
    """A 1:1 probe shows a second face about as large as the first: whose claim is checked
    would be a guess (one person at a time)."""

    code = "several_faces"
    zh = "图像中有不止一张较大的人脸：一次只能核验一个人。"


class PoorQuality(BadInput):
    code = "poor_quality"
    zh = "人脸质量不足以使用。"


class NotFound(FacegateError):
    code = "not_found"
    zh = "请求所指的对象不存在。"
    http_status = 404
    exit_code = 2


class Conflict(FacegateError):
    code = "conflict"
    zh = "请求与已保存的内容相冲突。"
    http_status = 409
    exit_code = 2


class IdentityMismatch(Conflict):
    """A new template does not match the subject's templates already held: the photo shows
    someone else, and enrolling it would let that person pass as the subject."""

    code = "identity_mismatch"
    zh = "新照片与该主体已有的人脸模板不匹配：照片中是另一个人。"


class EngineUnavailable(Conflict):
    """A deployment's templates come from an engine this installation cannot run."""

    code = "engine_unavailable"
    zh = "该部署的模板来自本安装无法运行的识别引擎。"


class Forbidden(FacegateError):
    """The caller's role does not allow the operation (not a rule refusal)."""

    code = "forbidden"
    zh = "调用者的角色不允许此操作。"
    http_status = 403
    exit_code = 3


class Refused(FacegateError):
    """The policy gate refused the operation; ``rules`` names the rule ids that refused."""

    code = "refused"
    zh = "策略闸门拒绝了此操作。"
    http_status = 403
    exit_code = 3


class ModelIntegrityError(FacegateError):
    """A face model file is missing, of another version, or not the file it should be: the
    engine refuses to start (HTTP 503 until the installation is repaired)."""

    code = "model_integrity"
    zh = "人脸模型文件缺失、版本不符或已被更改：识别引擎拒绝启动。"
    http_status = 503
    exit_code = 1


class IndexUnavailable(FacegateError):
    """The 1:N index's server (a Milvus cluster) cannot be reached or refused the request: 1:N
    search is unavailable until it is back (HTTP 503); nothing is matched without it."""

    code = "index_unavailable"
    zh = "1:N 索引服务器不可达：在其恢复之前无法进行 1:N 检索。"
    http_status = 503
    exit_code = 1


class KeyShredded(FacegateError):
    """A subject's key is gone: its ciphertexts can no longer be decrypted."""

    code = "key_shredded"
    zh = "该主体的密钥已被销毁：其加密数据再也无法读取。"
    http_status = 410
    exit_code = 1


class TooManyRequests(FacegateError):
    """Over a rate limit; try again later (HTTP 429, ``security.controls``)."""

    code = "too_many_requests"
    zh = "请求过多，请稍后再试。"
    http_status = 429
