"""Hash-chained audit records (``security.controls``).

Each record's ``hash`` is SHA-256 over its canonical JSON, which includes the previous record's
hash; editing, inserting or removing any record breaks the chain from that point on. A record
says who (API key name or CLI user, and role), what operation, which subject pseudonym,
deployment and purpose, the decision and the rule ids; never an image, never a template.
``verify_rows`` works on plain dicts, so an exported trail verifies offline.

Each record is also signed as it is written (``sig``: Ed25519 over its place and hash, with the
checkpoint signing key, which the database's owner does not hold), so a record appended behind
the service's back fails verification even before the next checkpoint is signed.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facegate.audit import offline
from facegate.store.models import AuditHead, AuditRecord

GENESIS = "0" * 64
FIELDS = ("seq", "at", "actor", "role", "operation", "subject", "deployment", "purpose",
          "decision", "rules", "detail", "prev_hash")
_FORBIDDEN_KEYS = {"image", "images", "template", "templates", "embedding", "vector", "pixels"}


@dataclass(frozen=True)
class AuditEntry:
    actor: str
    role: str
    operation: str
    decision: str  # allowed | refused | error
    rules: tuple[str, ...] = ()
    subject: str | None = None
    deployment: str | None = None
    purpose: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


def _check_detail(value: Any, path: str = "detail") -> None:
    """Only JSON data, and nothing that could carry face data (``images.no-retention``)."""
    if isinstance(value, bytes | bytearray | memoryview):
        raise ValueError(f"{path}: audit records never hold binary data")
    if isinstance(value, Mapping):
        for k, v in value.items():
            if str(k).lower() in _FORBIDDEN_KEYS:
                raise ValueError(f"{path}.{k}: audit records never hold face data")
            _check_detail(v, f"{path}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_detail(v, f"{path}[{i}]")
    elif not (value is None or isinstance(value, str | int | float | bool)):
        raise ValueError(f"{path}: {type(value).__name__} is not JSON data")


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(row: Mapping[str, Any]) -> str:
    body = {k: row[k] for k in FIELDS}
    return hashlib.sha256(canonical(body).encode()).hexdigest()


def record_dict(rec: AuditRecord) -> dict[str, Any]:
    return {
        "seq": rec.seq, "at": rec.at, "actor": rec.actor, "role": rec.role,
        "operation": rec.operation, "subject": rec.subject, "deployment": rec.deployment,
        "purpose": rec.purpose, "decision": rec.decision, "rules": json.loads(rec.rules),
        "detail": json.loads(rec.detail), "prev_hash": rec.prev_hash, "hash": rec.hash,
        "sig": rec.sig,
    }


def append(session: Session, entry: AuditEntry, now: datetime | None = None,
           sign: Callable[[bytes], bytes] | None = None) -> dict[str, Any]:
    """Append one record inside the caller's transaction; returns it as a dict. ``sign``
    (the checkpoint key's) signs the record's place and hash."""
    _check_detail(dict(entry.detail))
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    row: dict[str, Any] = {
        "seq": head.seq + 1,
        "at": (now or datetime.now(UTC)).isoformat(timespec="microseconds"),
        "actor": entry.actor, "role": entry.role, "operation": entry.operation,
        "subject": entry.subject, "deployment": entry.deployment, "purpose": entry.purpose,
        "decision": entry.decision, "rules": list(entry.rules), "detail": dict(entry.detail),
        "prev_hash": head.hash,
    }
    row["hash"] = record_hash(row)
    row["sig"] = (base64.b64encode(sign(offline.record_message(row["seq"], row["hash"])))
                  .decode() if sign else None)
    session.add(AuditRecord(**{**row, "rules": canonical(row["rules"]),
                               "detail": canonical(row["detail"])}))
    head.seq, head.hash = row["seq"], row["hash"]
    session.flush()
    return row


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    count: int
    first_broken: int | None = None
    reason: str = ""
    head_hash: str = GENESIS

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "count": self.count, "first_broken": self.first_broken,
                "reason": self.reason, "head_hash": self.head_hash}


def verify_rows(rows: Iterable[Mapping[str, Any]],
                head: tuple[int, str] | None = None, public_key: str | None = None,
                covered: int = 0) -> ChainReport:
    """Check every record's hash and link, in order; name the first broken record.

    ``head`` (last seq, last hash), when known, also catches records cut off the end. With
    ``public_key``, every record after ``covered`` (the size of a signed checkpoint whose root
    the caller checks) must carry that key's signature.
    """
    key = offline.verifying_key(public_key) if public_key else None
    prev, expected_seq, count = GENESIS, 1, 0
    for row in rows:
        seq = int(row["seq"])
        if seq != expected_seq:
            return ChainReport(False, count, expected_seq,
                               f"record {expected_seq} is missing (found {seq} next)", prev)
        if row["prev_hash"] != prev:
            return ChainReport(False, count, seq,
                               f"record {seq} does not link to record {seq - 1}", prev)
        if record_hash(row) != row["hash"]:
            return ChainReport(False, count, seq,
                               f"record {seq} was altered: its content does not match its hash",
                               prev)
        unsigned = offline.record_signature_error(row, key, covered) if key else None
        if unsigned:
            return ChainReport(False, count, seq, unsigned, prev)
        prev, expected_seq, count = row["hash"], seq + 1, count + 1
    if head is not None and (head[0] != count or head[1] != prev):
        return ChainReport(False, count, count + 1 if head[0] > count else head[0],
                           f"the chain head says {head[0]} records, {count} are present", prev)
    return ChainReport(True, count, None, "", prev)


def verify_chain(session: Session, batch: int = 5000, public_key: str | None = None,
                 covered: int = 0) -> ChainReport:
    """Verify the whole trail in the store, streaming it in batches (and each record's
    signature after ``covered``, given the key)."""
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one_or_none()
    return verify_rows(records(session, batch), (head.seq, head.hash) if head else (0, GENESIS),
                       public_key, covered)


def records(session: Session, batch: int = 5000) -> Iterator[dict[str, Any]]:
    """Every record in ``seq`` order, streamed in batches."""
    last = 0
    while True:
        chunk = session.execute(select(AuditRecord).where(AuditRecord.seq > last)
                                .order_by(AuditRecord.seq).limit(batch)).scalars().all()
        if not chunk:
            return
        for rec in chunk:
            yield record_dict(rec)
        last = chunk[-1].seq


def tail(session: Session, n: int = 20, **filters: Any) -> list[dict[str, Any]]:
    """The last ``n`` records (oldest first), optionally filtered by column equality."""
    q = select(AuditRecord)
    for col, value in filters.items():
        if value is not None:
            q = q.where(getattr(AuditRecord, col) == value)
    recs = session.execute(q.order_by(AuditRecord.seq.desc()).limit(n)).scalars().all()
    return [record_dict(r) for r in reversed(recs)]


def count(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(AuditRecord)).scalar_one())


def search(session: Session, n: int = 200, *, operation: str | None = None,
           deployment: str | None = None, subject: str | None = None,
           decision: str | None = None, rule: str | None = None, since: str | None = None,
           until: str | None = None) -> list[dict[str, Any]]:
    """Records matching every filter given, newest first (at most ``n``). ``since`` and
    ``until`` are ISO dates or times (UTC); ``rule`` is a rule id the record cites."""
    q = select(AuditRecord)
    for col, value in (("operation", operation), ("deployment", deployment),
                       ("subject", subject), ("decision", decision)):
        if value:
            q = q.where(getattr(AuditRecord, col) == value)
    if rule:
        q = q.where(AuditRecord.rules.contains(json.dumps(rule)))
    if since:
        q = q.where(AuditRecord.at >= since)
    if until:
        q = q.where(AuditRecord.at < until + ("T99" if len(until) == 10 else ""))
    recs = session.execute(q.order_by(AuditRecord.seq.desc()).limit(n)).scalars().all()
    return [record_dict(r) for r in recs]


def rule_counts(session: Session, decision: str | None = None,
                since: str | None = None) -> dict[str, int]:
    """How many records cite each rule id (optionally only refusals, or only since a day)."""
    q = select(AuditRecord.rules)
    if decision:
        q = q.where(AuditRecord.decision == decision)
    if since:
        q = q.where(AuditRecord.at >= since)
    counts: dict[str, int] = {}
    for (rules,) in session.execute(q):
        for r in json.loads(rules):
            counts[r] = counts.get(r, 0) + 1
    return counts


def operation_counts(session: Session, operations: tuple[str, ...]) -> dict[str, int]:
    rows = session.execute(select(AuditRecord.operation, func.count()).where(
        AuditRecord.operation.in_(operations), AuditRecord.decision == "allowed")
        .group_by(AuditRecord.operation))
    return {op: int(c) for op, c in rows}
