"""The console's devices: on a deployment's page, each capture device of its manifest with its
last security test and when the next is due (``devices.annual-test``), and for officers and
admins each device's keys (a kiosk's) with their last activity; forms revoke a key or create
one for a device, whose value is shown once (``security.controls``). Auditors see the devices
only: they cannot list keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from facegate.errors import FacegateError, NotFound
from facegate.policy.facts import Manifest
from facegate.policy.packs import get_pack
from facegate.service import Facegate
from facegate.service.dashboard import device_test
from facegate.web.console_audit import Helpers
from facegate.web.security import Session

# Runs a state-changing form (console.py): signed in, CSRF, not an auditor; errors shown.
Act = Callable[[Request, str, Callable[[Session], Response]], Response]
DeviceContext = Callable[[Session, dict[str, Any], str | None], dict[str, Any]]


def device_pages(r: APIRouter, service: Facegate, h: Helpers,
                 act: Act) -> DeviceContext:
    """Add the device-key forms to the console router; return what the deployment page
    needs to show its devices."""
    view = h.view

    def context(s: Session, dep: dict[str, Any], revoked: str | None = None
                ) -> dict[str, Any]:
        """The devices of ``dep``'s manifest, and their keys where the session may see them
        (``keys`` is None for an auditor: the key listing is the officer's)."""
        manifest = Manifest.model_validate(dep["manifest"])
        months = int(get_pack(dep.get("rule_pack")).params["device_test_months"])
        today = service.keys.clock.today()
        keys: list[dict[str, Any]] | None = None
        if s.can_change:
            try:
                keys = [k for k in service.keys.all(s.actor, dep["id"])
                        if k["role"] == "device"]
            except FacegateError:
                keys = None
        devices = []
        for d in manifest.devices:
            due, state = device_test(d.security_tested_on, months, today)
            devices.append({
                "id": d.id, "capture_area": d.capture_area,
                "tested": d.security_tested_on.isoformat() if d.security_tested_on else None,
                "due": due.isoformat() if due else None, "state": state,
                "keys": [k for k in keys or [] if k["device"] == d.id]})
        ids = {d.id for d in manifest.devices}
        return {"devices": devices, "device_keys": keys, "test_months": months,
                "stray_keys": [k for k in keys or [] if k["device"] not in ids],
                "revoked_key": revoked}

    def deployment_of(s: Session, deployment_id: str) -> dict[str, Any]:
        return service.deployments.get(s.actor, deployment_id)

    @r.post("/deployments/{deployment_id}/devices/{device_id}/keys")
    def create_key(request: Request, deployment_id: str, device_id: str,
                   csrf: Annotated[str, Form()] = "",
                   name: Annotated[str, Form()] = "") -> Response:
        """A new key for one device; its value is on this page only, never again."""
        def do(s: Session) -> Response:
            dep = deployment_of(s, deployment_id)
            made = service.keys.create(s.actor, name.strip() or f"{device_id} kiosk",
                                       "device", deployment_id, device_id)
            kiosk = f"/kiosk/{deployment_id}"
            out = view(request, s, "console/device_key.html", dep=dep, made=made,
                       kiosk=kiosk,
                       kiosk_url=service.settings.public_url.rstrip("/") + kiosk)
            out.headers["Cache-Control"] = "no-store"  # the value stays out of caches
            return out
        return act(request, csrf, do)

    @r.post("/deployments/{deployment_id}/keys/{key_id}/revoke")
    def revoke_key(request: Request, deployment_id: str, key_id: str,
                   csrf: Annotated[str, Form()] = "") -> Response:
        """Revoke one of this deployment's device keys; back to the deployment's page."""
        def do(s: Session) -> Response:
            mine = [k for k in service.keys.all(s.actor, deployment_id)
                    if k["role"] == "device"]
            if key_id not in {k["id"] for k in mine}:
                raise NotFound(f"deployment {deployment_id!r} has no device key {key_id!r}",
                               message_zh=f"部署 {deployment_id} 没有设备密钥 {key_id}",
                               rules=["security.controls"])
            service.keys.revoke(s.actor, key_id)
            return RedirectResponse(
                f"/console/deployments/{deployment_id}?revoked={key_id}#devices",
                status_code=303)
        return act(request, csrf, do)

    return context
