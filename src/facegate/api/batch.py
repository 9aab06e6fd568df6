"""Batch enrolment over HTTP: several consenting subjects, each with its own images, at one
deployment in one request (``facegate enrol-batch`` does the same from a folder). Each
subject is enrolled, decided and audited on its own; the answer lists each one's enrolment or
its error with the rule ids."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel, Field

from facegate.api.deps import Service, Who, read_image
from facegate.api.matching import EnrolOut
from facegate.api.paging import KNOWN_QUERY
from facegate.errors import BadInput, FacegateError
from facegate.service.limits import ID_MAX

router = APIRouter(tags=["faces"], dependencies=KNOWN_QUERY)

MAX_SUBJECTS = 50
MAX_IMAGES = 100

DESCRIPTION = f"""Enrol several subjects at one deployment. The body is
``multipart/form-data``: one ``deployment`` field, then for each image a ``subject`` field
and an ``images`` file, in the same order (the n-th ``subject`` names whose the n-th image
is); a subject's images need not be next to each other. Each subject must already have a
consent for the deployment, as for ``POST /v1/enrol``.

```bash
curl -X POST $B/v1/enrol/batch -H "X-API-Key: $OP" -F deployment=hq-office-door \\
  -F subject=$S1 -F images=@s1-front.jpg -F subject=$S1 -F images=@s1-side.jpg \\
  -F subject=$S2 -F images=@s2.jpg
```

Each subject is enrolled, decided by the gate and audited on its own, in the order it first
appears: ``items`` gives its enrolment (``result``, as ``POST /v1/enrol`` answers) or its
``error`` (``error``, ``message``, ``rules``), and one failing subject leaves the others
enrolled. At most {MAX_SUBJECTS} subjects and {MAX_IMAGES} images (422 beyond), each image
within the image limit (that subject's error ``image_too_large``), the whole request within
the request limit (413). A caller whose role may not enrol is refused as a whole (403)."""


class ItemError(BaseModel):
    """Why a subject was not enrolled; details of the error besides."""

    model_config = {"extra": "allow"}

    error: str
    message: str
    rules: list[str]


class BatchItem(BaseModel):
    subject: str
    enrolled: bool
    result: EnrolOut | None = Field(description="The enrolment, when it was done.")
    error: ItemError | None = Field(description="Why not, when it was not.")


class BatchOut(BaseModel):
    deployment: str
    items: list[BatchItem] = Field(description="Each subject, in the order it first appears.")
    enrolled: int
    failed: int


def _bad(problem: str) -> BadInput:
    return BadInput(problem, details={"problems": [problem], "rules": []})


@router.post("/v1/enrol/batch", response_model=BatchOut, description=DESCRIPTION)
def enrol_batch(who: Who, service: Service,
                deployment: Annotated[str, Form(min_length=1, max_length=ID_MAX)],
                subject: Annotated[list[str], Form(description=(
                    "Whose each image is: one value per image, in the order of ``images``."))],
                images: Annotated[list[UploadFile], File(description="Face photos")]
                ) -> dict[str, Any]:
    if len(subject) != len(images):
        raise _bad(f"body.subject: {len(subject)} subject values for {len(images)} images; "
                   "give one subject per image, in the same order")
    if len(images) > MAX_IMAGES:
        raise _bad(f"body.images: {len(images)} images; at most {MAX_IMAGES} in one batch")
    grouped: dict[str, list[UploadFile]] = {}
    for sid, image in zip(subject, images, strict=True):
        if not 1 <= len(sid) <= ID_MAX:
            raise _bad(f"body.subject: a subject id has 1 to {ID_MAX} characters")
        grouped.setdefault(sid, []).append(image)
    if len(grouped) > MAX_SUBJECTS:
        raise _bad(f"body.subject: {len(grouped)} subjects; at most {MAX_SUBJECTS} in one batch")
    items = []
    for sid, uploads in grouped.items():
        read: list[bytes | FacegateError] = []
        for upload in uploads:
            try:
                read.append(read_image(service, upload))
            except FacegateError as e:
                read.append(e)
        items.append((sid, read))
    return service.matching.enrol_each(who, deployment, items)
