"""The compliance officer's console at ``/console``: sign in with an officer or auditor key
(operator keys cannot), then the dashboard, deployments, subjects, the audit trail, the rule
catalogue and the rights requests. Every action goes through the same service and gate as the
REST API; auditors only read."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from facegate.errors import BadInput, FacegateError
from facegate.policy.catalogue import rules_catalogue
from facegate.service import Facegate
from facegate.service.filing import operator_of
from facegate.web import charts
from facegate.web.console_audit import Helpers, audit_pages
from facegate.web.console_devices import device_pages
from facegate.web.i18n import lang_of
from facegate.web.render import page
from facegate.web.security import (
    CONSOLE_ROLES,
    LOGIN,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Session,
    Signer,
    check_sign_in,
    csrf_ok,
    needs_https,
    new_session,
    read_session,
    save_session,
    set_cookie,
)

MAX_MANIFEST = 256 * 1024


def told(request: Request, e: FacegateError) -> str:
    """The error's message in the page's language."""
    english, chinese = e.messages()
    return chinese if lang_of(request) == "zh" else english


def router(service: Facegate) -> APIRouter:
    r = APIRouter(prefix="/console", include_in_schema=False)
    signer = Signer(service.keyring.session_key)

    def session_of(request: Request) -> Session | None:
        s = read_session(signer, request, service.keys.signed_out)
        if s is None or s.role not in CONSOLE_ROLES or not service.keys.active(s.key_id):
            return None
        return s

    def view(request: Request, s: Session, template: str, status_code: int = 200,
             **ctx: Any) -> Response:
        return page(request, template, session=s, status_code=status_code,
                    pack=service.settings.rule_pack, **ctx)

    def denied(request: Request, s: Session, message: str, status_code: int = 403,
               rules: list[str] | None = None) -> Response:
        return view(request, s, "console/error.html", status_code=status_code,
                    message=message, rules=rules or [])

    def failed(request: Request, s: Session, e: FacegateError) -> Response:
        """An error in the page's language (``FacegateError.messages``)."""
        return denied(request, s, told(request, e), e.http_status, list(e.rules))

    def changing(request: Request, s: Session | None, token: str) -> Response | None:
        """The checks every state-changing form passes: signed in, CSRF, not an auditor."""
        if s is None:
            return RedirectResponse(LOGIN, status_code=303)
        if not csrf_ok(s.csrf, token):
            return denied(request, s, "The form's security token is missing or stale; reload "
                          "the page and try again.", 403, ["security.controls"])
        if not s.can_change:
            return denied(request, s, "Auditors read; they cannot change anything.", 403,
                          ["security.controls"])
        return None

    # ---- sign-in ------------------------------------------------------------------------

    def https_required(request: Request, status_code: int) -> Response:
        """The sign-in page without its form: HTTPS is required here."""
        https = service.settings.public_url.rstrip("/")
        return page(request, "console/login.html", csrf="", status_code=status_code,
                    error="https_required", pack=service.settings.rule_pack,
                    secure_url=https + LOGIN if https.startswith("https://") else None)

    @r.get("/login")
    def login_form(request: Request, error: str | None = None) -> Response:
        if needs_https(request):
            return https_required(request, 200)
        token = secrets.token_urlsafe(24)
        out = page(request, "console/login.html", csrf=token, error=error,
                   pack=service.settings.rule_pack)
        set_cookie(out, service.settings.public_url, LOGIN_CSRF_COOKIE, token, max_age=3600,
                   request=request)
        return out

    @r.post("/login")
    def login(request: Request, api_key: Annotated[str, Form()],
              csrf: Annotated[str, Form()]) -> Response:
        got = check_sign_in(service.keys, request, api_key, csrf, LOGIN)
        if got.error == "https_required":
            return https_required(request, 403)
        who = got.actor
        if who is None or who.role not in CONSOLE_ROLES:  # a key of another role: bad_key
            refused = page(request, "console/login.html", csrf=csrf,
                           status_code=got.status if got.error else 401,
                           error=got.error or "bad_key", wait=got.wait,
                           pack=service.settings.rule_pack)
            refused.headers.update(got.headers)
            return refused
        out = RedirectResponse("/console", status_code=303)
        save_session(out, service.settings.public_url, signer,
                     new_session(got.key_id, who.name, who.role), request)
        out.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return out

    @r.post("/logout")
    def logout(request: Request) -> Response:
        """Sign out: the session id is kept as signed out in the store, so a copy of the
        cookie stops working in every process and after a restart."""
        s = read_session(signer, request)
        if s is not None:
            service.keys.sign_out(s.sid, s.expires)
        out = RedirectResponse(LOGIN, status_code=303)
        out.delete_cookie(SESSION_COOKIE, path="/")
        return out

    # ---- dashboard ----------------------------------------------------------------------

    @r.get("")
    def dashboard(request: Request) -> Response:
        s = session_of(request)
        if s is None:
            return RedirectResponse(LOGIN, status_code=303)
        who = s.actor
        t = lang_of(request)
        health = service.dashboard.deployment_health(who)
        filings = service.filing.statuses(who)
        counts = service.dashboard.person_counts(who)
        refusals = service.audit.refusals_by_rule(who)
        persons_chart = charts.line_chart(
            [(c["day"], c["persons"]) for c in counts],
            "人数变化" if t == "zh" else "Persons over time",
            filings[0]["threshold"] if filings else None)
        return view(request, s, "console/dashboard.html", health=health, filings=filings,
                    persons=counts[-1]["persons"] if counts else 0,
                    persons_chart=persons_chart, refusals=refusals,
                    refusals_chart=charts.bar_chart(
                        refusals, "拒绝次数" if t == "zh" else "Refusals by rule"),
                    deletions=service.audit.deletion_counts(who),
                    pending=len(service.rights.all(who, "pending")))

    # ---- deployments (their devices and device keys: web/console_devices.py) ------------

    def act(request: Request, csrf: str, do: Callable[[Session], Response]) -> Response:
        """Run a state-changing form: signed in, CSRF, not an auditor; errors shown."""
        s = session_of(request)
        stop = changing(request, s, csrf)
        if stop is not None:
            return stop
        assert s is not None
        try:
            return do(s)
        except FacegateError as e:
            return failed(request, s, e)

    devices = device_pages(r, service, Helpers(session_of, view, denied, failed), act)

    @r.get("/deployments")
    def deployments(request: Request) -> Response:
        s = session_of(request)
        if s is None:
            return RedirectResponse(LOGIN, status_code=303)
        return view(request, s, "console/deployments.html",
                    health=service.dashboard.deployment_health(s.actor), decision=None,
                    manifest_text="")

    @r.post("/deployments")
    async def upload_manifest(request: Request, csrf: Annotated[str, Form()],
                              action: Annotated[str, Form()] = "check",
                              manifest_text: Annotated[str, Form()] = "",
                              manifest_file: Annotated[UploadFile | None, File()] = None
                              ) -> Response:
        s = session_of(request)
        if action == "apply":
            stop = changing(request, s, csrf)
            if stop is not None:
                return stop
        elif s is None:
            return RedirectResponse(LOGIN, status_code=303)
        elif not csrf_ok(s.csrf, csrf):
            return denied(request, s, "The form's security token is stale.", 403,
                          ["security.controls"])
        assert s is not None
        text = manifest_text
        if manifest_file is not None and manifest_file.filename:
            text = (await manifest_file.read(MAX_MANIFEST + 1)).decode("utf-8", "replace")
        ctx: dict[str, Any] = {"manifest_text": text, "decision": None, "error": None,
                               "applied": None}
        try:
            if len(text) > MAX_MANIFEST:
                raise BadInput("the manifest is larger than 256 KiB")
            raw = yaml.safe_load(text) if text.strip() else None
            if not isinstance(raw, dict):
                raise BadInput("paste or upload a YAML/JSON manifest (a mapping of fields)")
            decision = service.deployments.check(raw, None, s.actor)
            ctx["decision"] = decision.to_dict()
            if action == "apply" and decision.allowed:
                ctx["applied"] = service.deployments.apply(s.actor, raw)
            elif action == "apply":
                service.deployments.apply(s.actor, raw)  # refused: audited with its rules
        except yaml.YAMLError as e:
            ctx["error"] = f"not valid YAML/JSON: {e}"
        except FacegateError as e:
            ctx["error"] = e.message
        status = 200 if ctx["error"] is None and (ctx["decision"] or {}).get("allowed") else 422
        if ctx["decision"] is not None and not ctx["decision"]["allowed"]:
            status = 403
        return view(request, s, "console/deployments.html", status_code=status,
                    health=service.dashboard.deployment_health(s.actor), **ctx)

    @r.get("/deployments/{deployment_id}")
    def deployment(request: Request, deployment_id: str) -> Response:
        s = session_of(request)
        if s is None:
            return RedirectResponse(LOGIN, status_code=303)
        who = s.actor
        try:
            dep = service.deployments.get(who, deployment_id)
            health = next(h for h in service.dashboard.deployment_health(who)
                          if h["id"] == deployment_id)
            assessments = service.assessments.all(who, deployment_id)
        except FacegateError as e:
            return failed(request, s, e)
        return view(request, s, "console/deployment.html", dep=dep, health=health,
                    assessments=assessments,
                    **devices(s, dep, request.query_params.get("revoked")),
                    manifest_yaml=yaml.safe_dump(dep["manifest"], allow_unicode=True,
                                                 sort_keys=False))

    @r.get("/deployments/{deployment_id}/documents/{kind}")
    def document(request: Request, deployment_id: str, kind: str) -> Response:
        s = session_of(request)
        if s is None:
            return RedirectResponse(LOGIN, status_code=303)
        lang = request.query_params.get("doc_lang", lang_of(request))
        draft = request.query_params.get("draft") == "1"
        try:
            if kind == "filing":  # the dossier of this deployment's operator
                manifest = service.deployments.get(s.actor, deployment_id)["manifest"]
                doc = service.documents.make(s.actor, "filing", lang=lang, draft=draft,
                                             operator=operator_of(manifest))
            else:
                doc = service.documents.make(s.actor, kind, deployment_id, lang,
                                             request.query_params.get("size", "A4"),
                                             draft=draft)
        except FacegateError as e:
            return failed(request, s, e)
        return Response(doc.pdf(), media_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="{deployment_id}-{kind}-{lang}.pdf"'})

    # ---- subjects -----------------------------------------------------------------------

    @r.get("/subjects")
    def subjects(request: Request, ref: str = "") -> Response:
        s = session_of(request)
        if s is None:
            return RedirectResponse(LOGIN, status_code=303)
        if not ref.strip():
            return view(request, s, "console/subjects.html", ref="", error=None)
        try:
            sid = service.subjects.find(s.actor, ref)
        except FacegateError as e:
            return view(request, s, "console/subjects.html", ref=ref, error=told(request, e),
                        status_code=e.http_status)
        return RedirectResponse(f"/console/subjects/{sid}", status_code=303)

    def subject_page(request: Request, s: Session, sid: str, flash: str | None = None,
                     receipt: dict[str, Any] | None = None, report: dict[str, Any] | None = None,
                     status_code: int = 200) -> Response:
        try:
            subject = service.subjects.show(s.actor, sid)
            deployments = service.deployments.all(s.actor)
        except FacegateError as e:
            return failed(request, s, e)
        return view(request, s, "console/subject.html", subject=subject, flash=flash,
                    receipt=receipt, report=report, deployments=deployments,
                    status_code=status_code)

    @r.get("/subjects/{sid}")
    def subject(request: Request, sid: str) -> Response:
        s = session_of(request)
        if s is None:
            return RedirectResponse(LOGIN, status_code=303)
        return subject_page(request, s, sid)

    @r.post("/subjects/{sid}/consent")
    def grant(request: Request, sid: str, csrf: Annotated[str, Form()],
              deployment: Annotated[str, Form()], method: Annotated[str, Form()] = "written",
              guardian_ref: Annotated[str, Form()] = "",
              guardian_relationship: Annotated[str, Form()] = "") -> Response:
        def do(s: Session) -> Response:
            purpose = service.deployments.get(s.actor, deployment)["purpose"]
            service.consents.grant(s.actor, sid, deployment, purpose, method,
                                  guardian_ref or None, guardian_relationship or None)
            return subject_page(request, s, sid, flash="consent_recorded")
        return act(request, csrf, do)

    @r.post("/subjects/{sid}/withdraw")
    def withdraw(request: Request, sid: str, csrf: Annotated[str, Form()],
                 deployment: Annotated[str, Form()] = "") -> Response:
        return act(request, csrf, lambda s: subject_page(
            request, s, sid, flash="withdrawn",
            receipt=service.consents.withdraw(s.actor, sid, deployment or None)))

    @r.post("/subjects/{sid}/delete")
    def delete(request: Request, sid: str, csrf: Annotated[str, Form()]) -> Response:
        return act(request, csrf, lambda s: view(
            request, s, "console/deleted.html", receipt=service.subjects.delete(s.actor, sid)))

    @r.post("/subjects/{sid}/access")
    def access(request: Request, sid: str, csrf: Annotated[str, Form()],
               verified: Annotated[bool, Form()] = False) -> Response:
        return act(request, csrf, lambda s: subject_page(
            request, s, sid, report=service.rights.access(s.actor, sid, verified)))

    # ---- audit: the trail, exports, signed checkpoints (web/console_audit.py) -----------

    audit_pages(r, service, Helpers(session_of, view, denied, failed))

    # ---- rules and requests -------------------------------------------------------------

    @r.get("/rules")
    def rules(request: Request) -> Response:
        s = session_of(request)
        if s is None:
            return RedirectResponse(LOGIN, status_code=303)
        return view(request, s, "console/rules.html", rules=rules_catalogue(),
                    fired=service.audit.rule_counts(s.actor))

    @r.get("/requests")
    def requests(request: Request) -> Response:
        s = session_of(request)
        if s is None:
            return RedirectResponse(LOGIN, status_code=303)
        try:
            items = service.rights.all(s.actor)
        except FacegateError as e:
            return failed(request, s, e)
        return view(request, s, "console/requests.html", items=items, done=None)

    @r.post("/requests/{rid}")
    def handle(request: Request, rid: str, csrf: Annotated[str, Form()],
               verified: Annotated[str, Form()]) -> Response:
        def do(s: Session) -> Response:
            done = service.rights.handle(s.actor, rid, verified == "yes")
            return view(request, s, "console/requests.html",
                        items=service.rights.all(s.actor), done=done)
        return act(request, csrf, do)

    return r

