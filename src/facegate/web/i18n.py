"""Chinese and English for the web pages. Chinese is the default when the browser asks for it;
a ``lang`` cookie (set by the language switch) wins."""

from __future__ import annotations

from fastapi import Request

LANGS = ("zh", "en")

TEXT: dict[str, tuple[str, str]] = {  # key: (zh, en)
    "app": ("facegate 人脸识别合规控制台", "facegate compliance console"),
    "switch": ("English", "中文"),
    "signin": ("登录", "Sign in"),
    "signout": ("退出", "Sign out"),
    "api_key": ("接口密钥（合规专员或审计员）", "API key (officer or auditor)"),
    "signin_help": ("使用合规专员或审计员角色的接口密钥登录；操作员密钥不能登录控制台。",
                    "Sign in with an officer or auditor API key; operator keys cannot sign in "
                    "to the console."),
    "bad_key": ("密钥无效，或其角色不能登录控制台。",
                "The key is not valid, or its role may not sign in to the console."),
    "dashboard": ("总览", "Dashboard"),
    "deployments": ("部署", "Deployments"),
    "subjects": ("个人", "Subjects"),
    "audit": ("审计日志", "Audit trail"),
    "rules": ("规则目录", "Rule catalogue"),
    "requests": ("权利请求", "Rights requests"),
    "status": ("状态", "Status"),
    "purpose": ("目的", "Purpose"),
    "mode": ("识别方式", "Mode"),
    "pack": ("规则包", "Rule pack"),
    "persons": ("存储人脸信息的人数", "Persons with stored face data"),
    "threshold": ("备案门槛", "Filing threshold"),
    "due": ("备案截止日期", "Filing due"),
    "refusals": ("近期拒绝（按规则）", "Recent refusals by rule"),
    "withdrawals": ("撤回与删除", "Withdrawals and deletions"),
    "live": ("运行中", "live"),
    "blocked": ("已阻止", "blocked"),
    "ended": ("已终止", "ended"),
    "upload": ("上传部署清单", "Upload a manifest"),
    "check": ("仅检查", "Check only"),
    "apply": ("登记", "Register"),
    "decision": ("闸门判定", "The gate's decision"),
    "allowed": ("允许", "allowed"),
    "refused": ("拒绝", "refused"),
    "documents": ("文件", "Documents"),
    "notice": ("告知书", "Notice"),
    "sign": ("提示标识", "Sign"),
    "pia": ("影响评估报告", "Impact assessment"),
    "dossier": ("备案材料", "Filing dossier"),
    "search_ref": ("按外部编号查找", "Find by external reference"),
    "find": ("查找", "Find"),
    "consents": ("同意记录", "Consents"),
    "templates": ("人脸模板（仅元数据）", "Templates (metadata only)"),
    "grant": ("记录同意", "Record consent"),
    "withdraw": ("撤回同意", "Withdraw consent"),
    "delete": ("删除全部人脸信息", "Delete all face data"),
    "access_report": ("查阅报告", "Access report"),
    "verify_chain": ("校验哈希链", "Verify the chain"),
    "chain_ok": ("哈希链完整", "The chain is intact"),
    "chain_broken": ("哈希链被破坏，首个异常记录：", "The chain is broken at record"),
    "export": ("导出", "Export"),
    "checkpoints": ("签名检查点", "Signed checkpoints"),
    "checkpoints_help": ("检查点对审计日志的记录数与默克尔根进行签名（Ed25519），"
                         "并保存在数据目录之外。请下载并另行保存；"
                         "之后可用离线校验器核对日志是否被截断、改写或伪造。",
                         "A checkpoint signs the trail's size and Merkle root (Ed25519) and is "
                         "kept outside the data directory. Download it and keep it elsewhere; "
                         "the offline verifier then shows whether the trail was cut, rewritten "
                         "or forged."),
    "sign_checkpoint": ("签署并下载检查点", "Sign and download a checkpoint"),
    "download_trail": ("下载完整日志（JSON 行）", "Download the whole trail (JSON lines)"),
    "records_n": ("条记录", "records"),
    "signed_at": ("签署时间", "Signed at"),
    "root_hash": ("默克尔根", "Merkle root"),
    "public_key": ("公钥", "Public key"),
    "filter": ("筛选", "Filter"),
    "operation": ("操作", "Operation"),
    "rule": ("规则", "Rule"),
    "fired": ("触发次数", "Times fired"),
    "source": ("出处", "Source"),
    "when": ("时间", "When"),
    "who": ("操作者", "Who"),
    "subject": ("个人（假名）", "Subject (pseudonym)"),
    "deployment": ("部署", "Deployment"),
    "none": ("无", "none"),
    "read_only": ("审计员只读", "Auditors read only"),
    "operator": ("运营者", "Operator"),
    "contact": ("联系方式", "Contact"),
    "retention": ("保存期限", "Retention"),
    "days": ("天", "days"),
    "alternative": ("替代方式", "The alternative"),
    "how_withdraw": ("如何撤回同意或行使权利", "How to withdraw or use your rights"),
    "rights_form": ("提交权利请求", "Make a rights request"),
    "request_kind": ("请求类型", "Request"),
    "kind_withdraw": ("撤回同意", "Withdraw my consent"),
    "kind_access": ("查阅我的人脸信息", "See my face data"),
    "kind_delete": ("删除我的人脸信息", "Delete my face data"),
    "your_ref": ("您的编号（如工号）", "Your reference (e.g. staff number)"),
    "your_birth": ("出生日期（帮助核实身份，可选）",
                   "Birth date (helps us check it is you, optional)"),
    "your_contact": ("联系方式（我们如何回复您）", "How we reach you"),
    "send": ("提交", "Send"),
    "request_recorded": ("您的请求已记录，合规专员将尽快处理。",
                         "Your request is recorded; the compliance officer will handle it."),
    "handle": ("处理", "Handle"),
    "pending": ("待处理", "pending"),
    "received": ("已收到", "received"),
    "done": ("已完成", "done"),
    # the devices of a deployment and their keys (web/console_devices.py)
    "dev_title": ("采集设备", "Devices"),
    "dev_id": ("设备编号", "Device"),
    "dev_area": ("采集区域", "Capture area"),
    "dev_tested": ("最近安全测试", "Last security test"),
    "dev_due": ("下次测试截止", "Next test due"),
    "dev_interval": ("每台设备须每 {n} 个月完成一次安全测试（规则 devices.annual-test）。",
                     "Each device needs a security test every {n} months (rule "
                     "devices.annual-test)."),
    "dev_ok": ("按期", "on time"),
    "dev_soon": ("30 天内到期", "due within 30 days"),
    "dev_overdue": ("已逾期", "overdue"),
    "dev_missing": ("未记录安全测试", "no test recorded"),
    "dev_none": ("此部署未登记采集设备。请在部署清单的 devices 字段中登记每台设备、其采集区域及最近"
                 "安全测试日期（规则 devices.annual-test），然后重新登记清单。",
                 "This deployment registers no capture device. List each device, its capture "
                 "area and its last security test in the manifest's devices field (rule "
                 "devices.annual-test), then register the manifest again."),
    "dev_keys_of": ("设备密钥：", "Keys of device"),
    "dev_keys_hidden": ("设备密钥仅合规专员和管理员可见。",
                        "Device keys are shown to officers and admins only."),
    "dev_no_keys": ("此设备还没有密钥。", "This device has no key yet."),
    "dev_stray": ("清单中已无其设备的密钥", "Keys of devices no longer in the manifest"),
    "key_name": ("名称", "Name"),
    "key_created": ("创建时间", "Created"),
    "key_last": ("最近活动", "Last activity"),
    "key_never": ("从未使用", "never"),
    "key_active": ("有效", "active"),
    "key_revoked": ("已吊销", "revoked"),
    "key_revoke": ("吊销", "Revoke"),
    "key_new_name": ("密钥名称（如放置位置）", "Key name (e.g. where the tablet is)"),
    "key_create": ("创建密钥", "Create key"),
    "key_made": ("设备密钥已创建", "Device key created"),
    "key_value": ("密钥", "Key"),
    "key_once": ("请立即复制此密钥并配置到设备上：它只显示这一次，之后不会再显示。"
                 "遗失时请吊销并重新创建。",
                 "Copy this key now and set it on the device: it is shown only this once and "
                 "never again. If it is lost, revoke it and create another."),
    "kiosk": ("自助终端页面", "Kiosk page"),
    "key_back": ("返回部署", "Back to the deployment"),
    "key_revoked_flash": ("已吊销密钥", "Key revoked"),
}


def lang_of(request: Request) -> str:
    """The page language: ``?lang=``, then the ``lang`` cookie, then Accept-Language."""
    for value in (request.query_params.get("lang"), request.cookies.get("lang")):
        if value in LANGS:
            return value
    accept = request.headers.get("accept-language", "").lower()
    return "zh" if accept.startswith("zh") or ",zh" in accept.replace(" ", "") else "en"


def translator(lang: str) -> dict[str, str]:
    """``t["key"]`` in ``lang``; an unknown key shows itself (visible, never a crash)."""
    i = 0 if lang == "zh" else 1

    class _T(dict[str, str]):
        def __missing__(self, key: str) -> str:
            return key

    return _T({k: v[i] for k, v in TEXT.items()})
