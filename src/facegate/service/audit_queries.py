"""Reading the audit trail: verifying its chain, the latest records, searches and exports
(the export is itself audited), the counts the officer's dashboard draws, and signed
checkpoints of its Merkle tree with inclusion proofs (``security.controls``).

The records' times are stored in UTC and hashed as stored; the latest records (``tail``,
``page``) tell them in the installation's zone with its offset (``shown``), while the exports
for the offline verifier keep every record byte for byte. A checkpoint signs its time as it is
told, in the installation's zone, so the checkpoint people read is the one that verifies."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta, tzinfo
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from facegate.audit import merkle, offline, tail, trail, verify_chain
from facegate.crypto.signing import public_key_b64
from facegate.errors import BadInput, Conflict
from facegate.localtime import instant
from facegate.service.actors import Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.clock import Clock
from facegate.service.gatekeeper import Gatekeeper
from facegate.store.models import AuditRecord

EXPORT_FIELDS = ("seq", "at", "actor", "role", "operation", "subject", "deployment", "purpose",
                 "decision", "rules", "detail", "prev_hash", "hash", "sig")
DELETIONS = ("consent.withdraw", "subject.delete", "housekeeping", "deployment.terminate")


def checkpoint_file_text(cp: Mapping[str, Any]) -> str:
    """A signed checkpoint as the file it is kept, downloaded and verified in."""
    return json.dumps(cp, indent=1) + "\n"


def shown(records: Sequence[Mapping[str, Any]], tz: tzinfo) -> list[dict[str, Any]]:
    """Records as people read them: ``at`` in ``tz`` with its offset, to the microsecond as
    stored; everything else as stored. Never the input of a hash: the chain's times stay
    UTC."""
    return [{**r, "at": _local(str(r["at"]), tz)} for r in records]


def _local(at: str, tz: tzinfo) -> str:
    return instant(at).astimezone(tz).isoformat(timespec="microseconds")


@dataclass(frozen=True, kw_only=True)
class AuditQueries:
    uow: UowFactory
    gate: Gatekeeper
    audit: AuditLog
    clock: Clock
    # The checkpoint signing key, loaded on first use (None: checkpoints are not signed here).
    signer: Callable[[], Ed25519PrivateKey] | None = None
    # The folder outside the data directory where every signed checkpoint is also kept.
    folder: Callable[[], Path] | None = None

    def verify(self, actor: Actor) -> dict[str, Any]:
        """Check the whole hash chain, each record's signature, and the newest checkpoint kept
        outside the data directory; names the first broken record."""
        self.gate.role(actor, "audit.verify")
        public = self._public()
        kept = self._trusted_kept(public)
        covered = int(kept["size"]) if kept else 0
        with self.uow() as uow:
            chain = verify_chain(uow.session, public_key=public, covered=covered).to_dict()
            if kept is None:
                return chain
            leaves = [bytes.fromhex(r["hash"]) for r in trail.records(uow.session)]
            first, reason = offline.check_checkpoint(leaves, kept)
            if reason and first is None and public is not None:
                first = offline.first_missigned(trail.records(uow.session), public,
                                                int(kept["size"]))
        if reason and (chain["ok"] or (first is not None and first <= chain["first_broken"])):
            return {**chain, "ok": False, "first_broken": first,
                    "reason": f"{reason} (the checkpoint of {kept['at']} kept outside the "
                              "data directory)"}
        return chain

    def tail(self, actor: Actor, n: int = 20, **filters: Any) -> list[dict[str, Any]]:
        """The latest ``n`` records, oldest first, times in the installation's zone."""
        self.gate.role(actor, "audit.read")
        with self.uow() as uow:
            return shown(tail(uow.session, n, **filters), self.clock.tz)

    def page(self, actor: Actor, limit: int, before: int | None = None,
             **filters: Any) -> list[dict[str, Any]]:
        """Up to ``limit`` records, newest first, before the record ``before`` (all when
        None), each filter given a column's value."""
        self.gate.role(actor, "audit.read")
        q = select(AuditRecord)
        for col, value in filters.items():
            if value is not None:
                q = q.where(getattr(AuditRecord, col) == value)
        if before is not None:
            q = q.where(AuditRecord.seq < before)
        with self.uow() as uow:
            recs = uow.session.execute(q.order_by(AuditRecord.seq.desc()).limit(limit))
            return shown([trail.record_dict(r) for r in recs.scalars()], self.clock.tz)

    def search(self, actor: Actor, n: int = 200, **filters: Any) -> list[dict[str, Any]]:
        self.gate.role(actor, "audit.read")
        with self.uow() as uow:
            return trail.search(uow.session, n, **filters)

    def export(self, actor: Actor, fmt: str, **filters: Any) -> str:
        """The filtered trail as CSV or JSON (the export is itself audited)."""
        if fmt not in ("csv", "json"):
            raise ValueError("format must be csv or json")
        records = list(reversed(self.search(actor, 100_000, **filters)))
        self.audit.alone(actor, "audit.export", "allowed", ["security.controls"],
                         detail={"format": fmt, "records": len(records),
                                 "filters": {k: v for k, v in filters.items() if v}})
        if fmt == "json":
            return json.dumps(records, ensure_ascii=False, indent=1)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS)
        w.writeheader()
        for r in records:
            w.writerow({**r, "rules": " ".join(r["rules"]),
                        "detail": json.dumps(r["detail"], ensure_ascii=False)})
        return buf.getvalue()

    def refusals_by_rule(self, actor: Actor, days: int = 30) -> dict[str, int]:
        """Refusals of the last ``days`` days per rule, most frequent first."""
        self.gate.role(actor, "audit.read")
        since = (self.clock.today() - timedelta(days=days)).isoformat()
        with self.uow() as uow:
            counts = trail.rule_counts(uow.session, decision="refused", since=since)
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def rule_counts(self, actor: Actor) -> dict[str, dict[str, int]]:
        """Per rule: how many audit records cite it, and how many of those were refusals."""
        self.gate.role(actor, "audit.read")
        with self.uow() as uow:
            cited = trail.rule_counts(uow.session)
            refused = trail.rule_counts(uow.session, decision="refused")
        return {r: {"cited": n, "refused": refused.get(r, 0)} for r, n in cited.items()}

    def deletion_counts(self, actor: Actor) -> dict[str, int]:
        """How many withdrawals, deletions, housekeepings and terminations were recorded."""
        self.gate.role(actor, "audit.read")
        with self.uow() as uow:
            return trail.operation_counts(uow.session, DELETIONS)

    def export_trail(self, actor: Actor) -> list[dict[str, Any]]:
        """Every record, oldest first, for ``python -m facegate.audit.offline`` (audited)."""
        self.gate.role(actor, "audit.read")
        with self.uow() as uow:
            records = list(trail.records(uow.session))
        self.audit.alone(actor, "audit.export", "allowed", ["security.controls"],
                         detail={"format": "jsonl", "records": len(records)})
        return records

    def export_jsonl(self, actor: Actor) -> str:
        """The whole trail as JSON lines, the offline verifier's input (audited)."""
        return "".join(json.dumps(r, ensure_ascii=False) + "\n"
                       for r in self.export_trail(actor))

    def _key(self) -> Ed25519PrivateKey:
        if self.signer is None:
            raise Conflict("no checkpoint signing key is configured")
        return self.signer()

    def _public(self) -> str | None:
        return public_key_b64(self._key()) if self.signer is not None else None

    def _trusted_kept(self, public: str | None) -> dict[str, Any] | None:
        """The newest checkpoint kept outside the data directory that this installation's key
        signed (None when there is none, or no key)."""
        if public is None:
            return None
        for cp in self._kept(50):
            if offline.signature_error(cp, public) is None:
                return cp
        return None

    def checkpoint(self, actor: Actor) -> dict[str, Any]:
        """A signed tree head over the whole trail: size, Merkle root, time, Ed25519 signature
        and the public key. Refused while the chain is broken, or holds a record this
        installation did not sign (it would sign the damage)."""
        self.gate.role(actor, "audit.verify")
        return self._sign_tree(actor, adopt=None)

    def adopt(self, actor: Actor, why: str) -> dict[str, Any] | None:
        """Sign a checkpoint over a trail whose records this installation's key did not sign:
        written before records were signed (``why="upgrade"``, only while no record is signed
        yet), or restored from an archive of another installation (``why="restore"``). The
        chain must hold; from here on the checkpoint vouches for those records."""
        if why == "upgrade":
            with self.uow() as uow:
                records, signed = uow.session.execute(
                    select(func.count(), func.count(AuditRecord.sig))).one()
            if signed or not records:
                return None
        return self._sign_tree(actor, adopt=why)

    def _sign_tree(self, actor: Actor, adopt: str | None) -> dict[str, Any]:
        key = self._key()
        public = public_key_b64(key)
        kept = self._trusted_kept(public)
        with self.uow() as uow:
            chain = verify_chain(uow.session, public_key=None if adopt else public,
                                 covered=int(kept["size"]) if kept else 0)
            leaves = [bytes.fromhex(r["hash"]) for r in trail.records(uow.session)]
        if not chain.ok:
            raise Conflict(f"the audit chain is broken at record {chain.first_broken}: "
                           f"{chain.reason}; no checkpoint is signed over it")
        size, root = len(leaves), merkle.root(leaves).hex()
        at = self.clock.now().astimezone(self.clock.tz).isoformat(timespec="seconds")
        public = public_key_b64(key)
        cp = {"format": offline.FORMAT, "size": size, "root": root, "at": at,
              "public_key": public, "key_id": offline.key_id(public),
              "signature": base64.b64encode(
                  key.sign(offline.checkpoint_message(size, root, at))).decode()}
        self.audit.alone(actor, "audit.checkpoint", "allowed", ["security.controls"],
                         detail={"size": size, "root": root, "key_id": cp["key_id"],
                                 **({"adopted": adopt} if adopt else {})})
        self._keep(cp)
        return cp

    def _keep(self, cp: dict[str, Any]) -> None:
        """Write a checkpoint to the folder outside the data directory (0600, never
        overwritten)."""
        if self.folder is None:
            return
        folder = self.folder()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = f"checkpoint-{cp['size']:010d}-{cp['at'][:19].replace(':', '')}.json"
        try:
            fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return  # the same size, signed within the same second: already kept
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(checkpoint_file_text(cp))

    def checkpoints(self, actor: Actor, n: int = 20) -> list[dict[str, Any]]:
        """The latest ``n`` checkpoints kept outside the data directory, newest first."""
        self.gate.role(actor, "audit.read")
        return self._kept(n)

    def _kept(self, n: int) -> list[dict[str, Any]]:
        if self.folder is None or not self.folder().is_dir():
            return []
        out = []
        for path in sorted(self.folder().glob("checkpoint-*.json"), reverse=True)[:n]:
            try:
                out.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue  # a damaged file is skipped here; the verifier reports it
        return out

    def periodic_checkpoint(self, actor: Actor) -> dict[str, Any] | None:
        """Sign a checkpoint when records were added since the latest kept one (its own
        ``audit.checkpoint`` record aside); None when nothing new needs signing."""
        latest = self.checkpoints(actor, 1)
        with self.uow() as uow:
            size = uow.session.execute(select(func.count()).select_from(AuditRecord)
                                       ).scalar_one()
        if latest and size <= int(latest[0]["size"]) + 1:
            return None
        return self.checkpoint(actor)

    def verify_checkpoint(self, actor: Actor, checkpoint: Mapping[str, Any],
                          earlier: Sequence[Mapping[str, Any]] | None = None
                          ) -> dict[str, Any]:
        """The trail against a signed checkpoint: the signature (by this installation's key),
        the chain, and that records 1..size still produce the signed root. ``earlier``, a
        previous export, names the first record that changed since."""
        self.gate.role(actor, "audit.verify")
        public = self._public()
        kept = self._trusted_kept(public)
        with self.uow() as uow:
            chain = verify_chain(uow.session)
            rows = list(trail.records(uow.session))
        # the newest checkpoint kept outside also vouches for (and is checked against) the trail
        out = offline.verify(rows, [checkpoint, *([kept] if kept else [])], public, earlier)
        if out["ok"] and not chain.ok:
            out = {"ok": False, "count": len(rows), "first_bad": chain.first_broken,
                   "reason": chain.reason}
        return {**out, "checkpoint_size": checkpoint.get("size")}

    def prove(self, actor: Actor, seq: int, size: int | None = None) -> dict[str, Any]:
        """An inclusion proof (RFC 9162) of record ``seq`` in the tree of the first ``size``
        records (all of them by default)."""
        self.gate.role(actor, "audit.read")
        with self.uow() as uow:
            leaves = [bytes.fromhex(r["hash"]) for r in trail.records(uow.session)]
        size = len(leaves) if size is None else size
        if not 1 <= seq <= size <= len(leaves):
            raise BadInput(f"record {seq} is not in a tree of {size} of {len(leaves)} records")
        return {"seq": seq, "hash": leaves[seq - 1].hex(), "size": size,
                "root": merkle.root(leaves, size).hex(),
                "proof": [h.hex() for h in merkle.inclusion_proof(leaves, seq - 1, size)]}
