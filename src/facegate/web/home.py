"""The site's root: ``GET /`` sends a browser to the officer's console (which asks for a
sign-in first when there is no session)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from facegate.web.security import LOGIN

CONSOLE = LOGIN.rsplit("/", 1)[0]  # "/console"

router = APIRouter(include_in_schema=False)


@router.get("/")
def home() -> RedirectResponse:
    """A temporary redirect (307) to the console."""
    return RedirectResponse(CONSOLE, status_code=307)
