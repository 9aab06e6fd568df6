"""Batch enrolment of uploaded images (``POST /v1/enrol/batch``): several subjects, each
with its own images, enrolled one after another at one deployment. Each subject is decided
by the gate and audited on its own, exactly as one ``enrol`` would be, and an item's refusal
or bad image leaves the others as they are; a refusal of the caller's role
(``security.controls``) refuses the whole batch, as it would every item. The
folder-and-journal batch of the command line is ``batch.py``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from facegate.errors import FacegateError, Refused
from facegate.service.actors import Actor
from facegate.service.facade import Facegate

ROLE = "security.controls"  # the rule a role refusal names

# An item: the subject and its images' bytes, or the error reading one of them gave.
Item = tuple[str, Sequence[bytes | FacegateError]]


def failure(e: FacegateError) -> dict[str, Any]:
    """An item's error as the response tells it: its name, message, rule ids and details."""
    body = e.to_dict()
    body.setdefault("rules", [])
    return body


def enrol_each(service: Facegate, actor: Actor, deployment_id: str,
               items: Sequence[Item]) -> dict[str, Any]:
    """Enrol each item at ``deployment_id``; per item, the enrolment or its error."""
    out: list[dict[str, Any]] = []
    for subject_id, images in items:
        unread = next((i for i in images if isinstance(i, FacegateError)), None)
        try:
            if unread is not None:
                raise unread
            result = service.matching.enrol(actor, subject_id, deployment_id,
                                            [i for i in images if isinstance(i, bytes)])
        except Refused as e:
            if ROLE in e.rules:  # the caller may not enrol at all: no item can be
                raise
            out.append({"subject": subject_id, "enrolled": False, "result": None,
                        "error": failure(e)})
        except FacegateError as e:
            out.append({"subject": subject_id, "enrolled": False, "result": None,
                        "error": failure(e)})
        else:
            out.append({"subject": subject_id, "enrolled": True, "result": result,
                        "error": None})
    done = sum(1 for o in out if o["enrolled"])
    return {"deployment": deployment_id, "items": out, "enrolled": done,
            "failed": len(out) - done}
