"""``AsyncClient``: the service's operations as coroutines, with the same groups, methods
and answers as ``Client`` (``facegate.client.sync``); a list's ``pages`` is an async
iterator."""

from __future__ import annotations

import builtins
import datetime as dt
import os
import ssl
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, TypeVar

import httpx

from facegate.client import calls
from facegate.client import models as m
from facegate.client import models_ops as o
from facegate.client.calls import Attributes, Format, Lang, Manifest, Role
from facegate.client.errors import NoAnswer, error_from
from facegate.client.wire import (
    DEFAULT_TIMEOUT,
    Call,
    Document,
    Image,
    Page,
    following,
    http_options,
    images_of,
    request_args,
    tls,
)

T = TypeVar("T")


class Sender:
    """Sends calls over one ``httpx.AsyncClient``; error answers raise."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def send(self, call: Call[T]) -> T:
        try:
            response = await self.http.request(call.method, call.path, **request_args(call))
        except httpx.TransportError as exc:
            raise NoAnswer(f"{call.method} {call.path}: no answer ({exc})") from exc
        if response.is_error and response.status_code not in call.answers:
            raise error_from(response)
        return call.read(response)

    async def pages(self, build: Callable[[str | None], Call[Page[T]]],
                    cursor: str | None = None) -> AsyncIterator[Page[T]]:
        """Each page from ``cursor`` on, following ``X-Next-Cursor``."""
        seen: set[str] = set()
        while True:
            page = await self.send(build(cursor))
            yield page
            cursor = following(page, seen)
            if cursor is None:
                return


async def _all(pages: AsyncIterator[Page[T]]) -> builtins.list[T]:
    return [item for page in [p async for p in pages] for item in page.items]


class Resource:
    def __init__(self, sender: Sender) -> None:
        self._s = sender


class Deployments(Resource):
    async def apply(self, manifest: Manifest) -> m.DeploymentApplied:
        """Register a manifest through the gate (201), or raise ``Refused``/``BadRequest``
        with the rules. ``manifest``: a mapping, YAML text as bytes, or a file's path."""
        return await self._s.send(calls.apply_deployment(manifest))

    async def check(self, manifest: Manifest, *, pack: str | None = None) -> m.Decision:
        """The gate's decision on a manifest, rule by rule; nothing is stored."""
        return await self._s.send(calls.check_deployment(manifest, pack))

    async def list(self, *, limit: int | None = None) -> builtins.list[m.Deployment]:
        """Every deployment, following the pages (``limit`` items a page)."""
        return await _all(self.pages(limit=limit))

    def pages(self, *, limit: int | None = None, cursor: str | None = None
              ) -> AsyncIterator[Page[m.Deployment]]:
        return self._s.pages(lambda c: calls.list_deployments(limit, c), cursor)

    async def get(self, deployment: str) -> m.DeploymentDetail:
        return await self._s.send(calls.get_deployment(deployment))

    async def terminate(self, deployment: str) -> m.TerminationReceipt:
        """End face recognition there: templates deleted, consents closed (a receipt)."""
        return await self._s.send(calls.terminate(deployment))

    async def notice(self, deployment: str, *, version: int | None = None) -> m.Notice:
        """The current notice (or ``version``)."""
        return await self._s.send(calls.notice(deployment, version))

    async def document(self, deployment: str, kind: Literal["notice", "sign", "pia"], *,
                       lang: Lang = "zh", size: Literal["A4", "A3"] = "A4", format: Format = "pdf",
                       draft: bool = False) -> Document:
        """The notice, reminder sign or impact assessment report as PDF or HTML."""
        return await self._s.send(calls.document(deployment, kind, lang, size, format, draft))

    async def rekey(self, deployment: str) -> o.Rekeyed:
        """Renew the deployment's protected templates (a new secret rotation)."""
        return await self._s.send(calls.rekey(deployment))

    async def migrate_engine(self, deployment: str, to: str | None = None) -> o.MigrationStarted:
        """Move the deployment to another engine (default: the installation's) as people
        verify."""
        return await self._s.send(calls.migrate_engine(deployment, to))


class Assessments(Resource):
    async def record(self, deployment: str, assessment: Mapping[str, Any]) -> o.Assessment:
        """Record an impact assessment (``assessor``, ``sections``, ``conclusion``)."""
        return await self._s.send(calls.record_assessment(deployment, assessment))

    async def list(self, deployment: str, *, limit: int | None = None
                   ) -> builtins.list[o.Assessment]:
        return await _all(self.pages(deployment, limit=limit))

    def pages(self, deployment: str, *, limit: int | None = None, cursor: str | None = None
              ) -> AsyncIterator[Page[o.Assessment]]:
        return self._s.pages(lambda c: calls.list_assessments(deployment, limit, c), cursor)

    async def delete(self, deployment: str, version: int) -> o.AssessmentDeleted:
        """Refused (``Refused``, ``pia.before-use``) while it must be kept."""
        return await self._s.send(calls.delete_assessment(deployment, version))

    async def incident(self, deployment: str, what: str) -> o.Incident:
        """A major incident: the assessment is stale until reassessed."""
        return await self._s.send(calls.incident(deployment, what))


class Subjects(Resource):
    async def add(self, ref: str, *, birth_date: dt.date | str | None = None) -> m.SubjectCreated:
        """A pseudonymous subject under an external reference."""
        return await self._s.send(calls.add_subject(ref, birth_date))

    async def list(self, *, reference: str | None = None, limit: int | None = None
                   ) -> builtins.list[m.SubjectListed]:
        """Every subject's pseudonym (or the one with ``reference``), following the pages."""
        return await _all(self.pages(reference=reference, limit=limit))

    def pages(self, *, reference: str | None = None, limit: int | None = None,
              cursor: str | None = None) -> AsyncIterator[Page[m.SubjectListed]]:
        return self._s.pages(lambda c: calls.list_subjects(reference, limit, c), cursor)

    async def find(self, reference: str) -> m.SubjectListed | None:
        """The subject with an external reference, or None."""
        found = await self.list(reference=reference)
        return found[0] if found else None

    async def get(self, subject: str) -> m.Subject:
        """What is held: consents and template metadata, never template values."""
        return await self._s.send(calls.get_subject(subject))

    async def delete(self, subject: str) -> m.DeletionReceipt:
        """Delete everything about the subject; returns the deletion receipt."""
        return await self._s.send(calls.delete_subject(subject))


class Consents(Resource):
    async def grant(self, subject: str, deployment: str, purpose: str, *,
                    method: Literal["electronic", "written"] = "electronic",
                    guardian_ref: str | None = None, guardian_relationship: str | None = None,
                    notice_version: int | None = None) -> m.ConsentGranted:
        return await self._s.send(calls.grant({
            "subject": subject, "deployment": deployment, "purpose": purpose,
            "method": method, "guardian_ref": guardian_ref,
            "guardian_relationship": guardian_relationship,
            "notice_version": notice_version}))

    async def withdraw(self, subject: str, deployment: str | None = None) -> m.DeletionReceipt:
        """Withdraw at one deployment, or everywhere; the templates are gone on return."""
        return await self._s.send(calls.withdraw(subject, deployment))

    async def list(self, *, subject: str | None = None, deployment: str | None = None,
                   limit: int | None = None) -> builtins.list[m.Consent]:
        return await _all(self.pages(subject=subject, deployment=deployment, limit=limit))

    def pages(self, *, subject: str | None = None, deployment: str | None = None,
              limit: int | None = None, cursor: str | None = None
              ) -> AsyncIterator[Page[m.Consent]]:
        return self._s.pages(lambda c: calls.list_consents(subject, deployment, limit, c),
                             cursor)


class Faces(Resource):
    async def enrol(self, subject: str, deployment: str, images: Image | Sequence[Image], *,
                    source: Literal["live", "research", "training"] = "live",
                    keep_image: bool = False, attributes: Attributes = None) -> m.Enrolment:
        """Templates from one image or several; poor images come back in ``rejected``."""
        return await self._s.send(calls.enrol(subject, deployment, images_of(images), source,
                                              keep_image, attributes))

    async def enrol_batch(self, deployment: str, images: Mapping[str, Image | Sequence[Image]]
                          ) -> m.BatchEnrolment:
        """Several consenting subjects at once (``{subject: image or images}``); each is
        enrolled and decided on its own: ``items`` has its enrolment or its error."""
        pairs = [(subject, image) for subject, given in images.items()
                 for image in images_of(given)]
        return await self._s.send(calls.enrol_batch(deployment, pairs))

    async def verify(self, subject: str, deployment: str, image: Image, *,
                     transaction: str | None = None, choice: Literal["face"] | None = None,
                     attributes: Attributes = None) -> m.Verification:
        """1:1: ``match``, ``score``, ``threshold``."""
        return await self._s.send(calls.verify(subject, deployment, image, transaction, choice,
                                               attributes))

    async def identify(self, deployment: str, image: Image, *, top: int = 5,
                       transaction: str | None = None, choice: Literal["face"] | None = None,
                       attributes: Attributes = None) -> m.Identification:
        """1:N: ``candidates`` of the largest face, and each face's own."""
        return await self._s.send(calls.identify(deployment, image, top, transaction, choice,
                                                 attributes))

    async def detect(self, image: Image, *, attributes: Attributes = None) -> m.Detection:
        return await self._s.send(calls.detect(image, attributes))

    async def attributes(self, names: Attributes = "race") -> dict[str, Any]:
        """There is no attribute analysis: always raises ``Refused``
        (``attributes.sensitive``), and the request is audited."""
        return await self._s.send(calls.attributes(names))

    async def decline(self, deployment: str, *, subject: str | None = None,
                      transaction: str | None = None) -> m.Declined:
        """The person chose the alternative: recorded, never penalised."""
        return await self._s.send(calls.decline(deployment, subject, transaction))

    async def review(self, deployment: str, transaction: str, *, staff: str | None = None,
                     outcome: Literal["confirmed", "rejected"] | None = None,
                     subject: str | None = None) -> o.Review:
        """A staff member's manual check of a transaction of major interest."""
        return await self._s.send(calls.review({
            "deployment": deployment, "transaction": transaction, "staff": staff,
            "outcome": outcome, "subject": subject}))


class Audit(Resource):
    async def records(self, *, limit: int | None = None, operation: str | None = None,
                      subject: str | None = None, deployment: str | None = None
                      ) -> builtins.list[o.AuditRecord]:
        """The latest records matching the filters, oldest first (one page)."""
        async for page in self.pages(limit=limit, operation=operation, subject=subject,
                                     deployment=deployment):
            return page.items
        raise AssertionError("a list has a first page")  # pragma: no cover

    def pages(self, *, limit: int | None = None, operation: str | None = None,
              subject: str | None = None, deployment: str | None = None,
              cursor: str | None = None) -> AsyncIterator[Page[o.AuditRecord]]:
        """Pages of records from the newest back; each page oldest first."""
        return self._s.pages(lambda c: calls.audit_records(limit, c, operation, subject,
                                                           deployment), cursor)

    async def verify(self) -> o.ChainReport:
        """Check the whole hash chain; names the first broken record."""
        return await self._s.send(calls.audit_verify())

    async def checkpoint(self) -> o.Checkpoint:
        """Sign a checkpoint of the whole trail now."""
        return await self._s.send(calls.checkpoint())

    async def checkpoints(self, *, limit: int | None = None) -> builtins.list[o.Checkpoint]:
        """The latest checkpoints, newest first (one page)."""
        return (await self._s.send(calls.checkpoints(limit, None))).items

    async def proof(self, seq: int, *, size: int | None = None) -> o.InclusionProof:
        """An inclusion proof of record ``seq`` in the tree of the first ``size`` records."""
        return await self._s.send(calls.proof(seq, size))

    async def trail(self) -> bytes:
        """The whole trail as JSON lines, as served (for ``facegate.audit.offline``)."""
        return await self._s.send(calls.trail())


class Compliance(Resource):
    async def filing(self) -> o.FilingOverview:
        return await self._s.send(calls.filing())

    async def record_filing(self, filed_on: dt.date | str, reference: str, *,
                            kind: Literal["filing", "change", "deregister"] = "filing",
                            operator: str | None = None) -> o.FilingStatus:
        on = filed_on.isoformat() if isinstance(filed_on, dt.date) else filed_on
        return await self._s.send(calls.record_filing({"filed_on": on, "reference": reference,
                                                       "kind": kind, "operator": operator}))

    async def dossier(self, *, operator: str | None = None, lang: Lang = "zh",
                      format: Format = "pdf") -> Document:
        return await self._s.send(calls.dossier(operator, lang, format))

    async def housekeeping(self) -> o.Housekeeping:
        """Delete expired templates now."""
        return await self._s.send(calls.housekeeping())

    async def receipt(self, receipt: Mapping[str, Any], *, lang: Lang = "zh",
                      format: Format = "pdf") -> Document:
        """A deletion receipt (as a withdrawal or deletion returned it) as a document."""
        return await self._s.send(calls.receipt(receipt, lang, format))


class Rights(Resource):
    async def access(self, subject: str, *, requester_verified: bool = False) -> o.Access:
        return await self._s.send(calls.access(subject, requester_verified))

    async def delete(self, subject: str, *, requester_verified: bool = False) -> o.RightsDeletion:
        return await self._s.send(calls.erase(subject, requester_verified))

    async def export(self, subject: str, *, basis: str | None = None,
                     with_identity: bool = False) -> o.Export:
        """Templates leave only under a cited ``basis``."""
        return await self._s.send(calls.export(subject, basis, with_identity))


class Keys(Resource):
    async def create(self, name: str, role: Role, *, deployment: str | None = None,
                     device: str | None = None) -> o.KeyCreated:
        """A new key (its value, ``key``, is in this answer only); a device key names its
        deployment and one of the devices in that deployment's manifest."""
        return await self._s.send(calls.create_key(name, role, deployment, device))

    async def list(self, *, limit: int | None = None) -> builtins.list[o.Key]:
        """Every key (never a value or a digest), following the pages."""
        return await _all(self.pages(limit=limit))

    def pages(self, *, limit: int | None = None, cursor: str | None = None
              ) -> AsyncIterator[Page[o.Key]]:
        return self._s.pages(lambda c: calls.list_keys(limit, c), cursor)

    async def revoke(self, key_id: str) -> o.KeyRevoked:
        return await self._s.send(calls.revoke_key(key_id))

    async def whoami(self) -> o.WhoAmI:
        return await self._s.send(calls.whoami())


class Rules(Resource):
    async def list(self, *, pack: str | None = None) -> builtins.list[o.Rule]:
        return (await self._s.send(calls.rules(pack))).items


class Engine(Resource):
    async def status(self) -> o.EngineStatus:
        return await self._s.send(calls.engine_status())


class AsyncClient:
    """The service at ``base_url`` with ``api_key``; close it, or use it as an async
    context manager. ``timeout``, ``verify`` and ``headers`` as for ``Client``;
    ``transport`` replaces the network (an ``httpx`` async transport)."""

    def __init__(self, base_url: str, api_key: str | None, *,
                 timeout: float = DEFAULT_TIMEOUT,
                 verify: bool | str | os.PathLike[str] | ssl.SSLContext = True,
                 headers: Mapping[str, str] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=timeout, verify=tls(verify),
                                      headers=http_options(api_key, headers),
                                      transport=transport)
        sender = Sender(self.http)
        self.deployments = Deployments(sender)
        self.assessments = Assessments(sender)
        self.subjects = Subjects(sender)
        self.consents = Consents(sender)
        self.faces = Faces(sender)
        self.audit = Audit(sender)
        self.compliance = Compliance(sender)
        self.rights = Rights(sender)
        self.keys = Keys(sender)
        self.rules = Rules(sender)
        self.engine = Engine(sender)
        self._s = sender

    async def health(self) -> o.Live:
        """Live: the process answers (no key needed)."""
        return await self._s.send(calls.health())

    async def ready(self) -> o.Ready:
        """Readiness: ``ready`` is false while indexes load or the store is down (the
        service's 503 with this body is returned, not raised)."""
        return await self._s.send(calls.ready())

    async def close(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self.close()
