"""Signs and notices point where people can go (``notice.required``): while the public URL is
unset or a loopback address, a sign or notice is refused unless a draft is asked for, and a
draft says DRAFT on its title and every page; with a real public URL the sign's QR code and
text carry it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader
from tests.conftest import assessed, office_manifest

from facegate.engine import Engine
from facegate.errors import Conflict
from facegate.service import Actor, Facegate, Settings
from facegate.service.documents import unreachable

OFFICER = Actor("test-officer", "officer")


@pytest.mark.parametrize("url, local", [
    ("http://127.0.0.1:8000", True), ("http://localhost:8000", True),
    ("http://[::1]:8000", True), ("http://0.0.0.0:8000", True), ("http://127.8.9.1", True),
    ("http://app.localhost", True), ("https://faces.example.com", False),
    ("http://192.168.1.20:8000", False), ("https://10.0.0.5", False),
])
def test_loopback_addresses_are_recognised(url: str, local: bool) -> None:
    assert unreachable(url) is local


def pdf_text(data: bytes) -> str:
    return "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages)


def test_no_sign_or_notice_points_to_loopback_unless_a_draft(service: Facegate) -> None:
    assert unreachable(service.settings.public_url)  # the default: this machine only
    dep = assessed(service, office_manifest())
    for kind in ("sign", "notice"):
        with pytest.raises(Conflict) as e:
            service.documents.make(OFFICER, kind, dep, "zh")
        assert e.value.rules == ["notice.required"]
        assert "FACEGATE_PUBLIC_URL" in e.value.message
        draft = service.documents.make(OFFICER, kind, dep, "zh", draft=True)
        assert "DRAFT" in draft.title and "草稿" in draft.title and "DRAFT" in draft.html
        pages = PdfReader(io.BytesIO(draft.pdf())).pages
        assert all("DRAFT" in (p.extract_text() or "") for p in pages)
    # the assessment report is not posted anywhere: it needs no public address
    assert "DRAFT" not in service.documents.make(OFFICER, "pia", dep, "en").title


def test_a_public_url_goes_on_the_sign(data_dir: Path, engine: Engine) -> None:
    settings = Settings(data_dir=data_dir, public_url="https://faces.example.com")
    Facegate.initialise(settings)
    svc = Facegate(settings, engine)
    try:
        dep = assessed(svc, office_manifest())
        sign = svc.documents.make(OFFICER, "sign", dep, "zh")
        assert "DRAFT" not in sign.title
        assert f"https://faces.example.com/notice/{dep}" in pdf_text(sign.pdf())
        notice = svc.documents.make(OFFICER, "notice", dep, "en")
        assert f"https://faces.example.com/notice/{dep}" in notice.html
    finally:
        svc.close()
