"""Verify an exported audit trail against signed checkpoints, offline (``security.controls``).

Needs only the trail (JSON lines, as ``facegate audit export`` writes it), one or more
checkpoints (``facegate audit checkpoint``) and the installation's public key; no database,
no service: the standard library, ``cryptography`` and ``facegate.audit.merkle``. It checks
each checkpoint's Ed25519 signature, every record's hash and link, that the first ``size``
records still produce each checkpoint's signed root, that every record after the newest
checkpoint carries the installation's signature (so a record added behind the service's back
is caught even before the next checkpoint), and that the checkpoints are consistent with one
another (RFC 9162 consistency proofs). Exit 0 when all holds; 1 naming the first bad record
otherwise; 2 on bad input::

    python -m facegate.audit.offline trail.jsonl --checkpoint cp.json --public-key KEY
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import itertools
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from facegate.audit import merkle

FORMAT = "facegate-checkpoint/1"
RECORD_FORMAT = "facegate-record/1"
GENESIS = "0" * 64
FIELDS = ("seq", "at", "actor", "role", "operation", "subject", "deployment", "purpose",
          "decision", "rules", "detail", "prev_hash")


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(row: Mapping[str, Any]) -> str:
    """The same hash the trail gives a record (``facegate.audit.trail.record_hash``)."""
    return hashlib.sha256(canonical({k: row[k] for k in FIELDS}).encode()).hexdigest()


def checkpoint_message(size: int, root: str, at: str) -> bytes:
    """What a checkpoint's signature covers."""
    return f"{FORMAT}\n{size}\n{root}\n{at}\n".encode()


def record_message(seq: int, record_hash: str) -> bytes:
    """What a record's signature covers: its place and its hash, which commits to its content
    and, through ``prev_hash``, to every record before it."""
    return f"{RECORD_FORMAT}\n{seq}\n{record_hash}\n".encode()


def verifying_key(value: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(value))


def record_signature_error(row: Mapping[str, Any], key: Ed25519PublicKey,
                           covered: int) -> str | None:
    """Why a record's signature fails (None when it holds). Records ``1..covered`` are
    covered by a signed checkpoint whose root the caller checks, so they need no signature of
    their own (records written before records were signed, or restored from an archive signed
    by another installation's key); every later record must carry this key's signature."""
    seq, sig = int(row["seq"]), row.get("sig")
    if seq <= covered:
        return None
    if not sig:
        return (f"record {seq} carries no signature and no signed checkpoint covers it: it "
                "was written behind the service's back")
    try:
        key.verify(base64.b64decode(str(sig)), record_message(seq, str(row["hash"])))
    except (InvalidSignature, ValueError):
        return (f"record {seq} is not signed by the installation's key: it was forged or "
                "rewritten")
    return None


def first_unsigned(rows: Iterable[Mapping[str, Any]], key: str,
                   covered: int) -> tuple[int | None, str]:
    """The first record after ``covered`` whose signature fails, and why."""
    pub = verifying_key(key)
    for row in rows:
        why = record_signature_error(row, pub, covered)
        if why:
            return int(row["seq"]), why
    return None, ""


def key_id(public_key: str) -> str:
    return hashlib.sha256(base64.b64decode(public_key)).hexdigest()[:16]


def signature_error(cp: Mapping[str, Any], public_key: str | None = None) -> str | None:
    """Why a checkpoint's signature fails (None when it holds). ``public_key`` is the key
    the verifier trusts; without it, only the key the checkpoint carries is used."""
    try:
        if cp.get("format") != FORMAT:
            return f"not a {FORMAT} checkpoint"
        key = public_key or str(cp["public_key"])
        if public_key and cp.get("public_key") not in (None, public_key):
            return "the checkpoint was signed by another key"
        verifying_key(key).verify(
            base64.b64decode(str(cp["signature"])),
            checkpoint_message(int(cp["size"]), str(cp["root"]), str(cp["at"])))
    except InvalidSignature:
        return "the signature does not verify"
    except (KeyError, TypeError, ValueError) as e:
        return f"malformed checkpoint ({e})"
    return None


def check_chain(rows: Iterable[Mapping[str, Any]]) -> tuple[list[bytes], int | None, str]:
    """The records' hashes as Merkle leaves, and the first broken record (or None)."""
    leaves: list[bytes] = []
    prev = GENESIS
    for row in rows:
        seq = int(row["seq"])
        if seq != len(leaves) + 1:
            return leaves, len(leaves) + 1, f"record {len(leaves) + 1} is missing"
        if row["prev_hash"] != prev:
            return leaves, seq, f"record {seq} does not link to record {seq - 1}"
        if record_hash(row) != row["hash"]:
            return leaves, seq, f"record {seq} was altered: its content does not match its hash"
        prev = row["hash"]
        leaves.append(bytes.fromhex(prev))
    return leaves, None, ""


def first_difference(rows: Sequence[Mapping[str, Any]],
                     earlier: Sequence[Mapping[str, Any]]) -> int | None:
    """The first seq whose record differs from (or is missing against) an earlier export."""
    for i, old in enumerate(earlier):
        if i >= len(rows) or rows[i].get("hash") != old.get("hash"):
            return i + 1
    return None


def first_missigned(rows: Iterable[Mapping[str, Any]], key: str, upto: int) -> int | None:
    """The first of records ``1..upto`` that carries a signature this key does not verify
    (unsigned ones are passed over): where a rewrite behind a checkpoint begins."""
    pub = verifying_key(key)
    for row in rows:
        if int(row["seq"]) > upto:
            return None
        if row.get("sig") and record_signature_error(row, pub, 0):
            return int(row["seq"])
    return None


def check_checkpoint(leaves: Sequence[bytes], cp: Mapping[str, Any],
                     rows: Sequence[Mapping[str, Any]] = (),
                     earlier: Sequence[Mapping[str, Any]] | None = None,
                     public_key: str | None = None) -> tuple[int | None, str]:
    """(first bad record, reason) when the records disagree with a checkpoint; (None, "").
    The first bad record is named from ``earlier`` (a previous export) or, failing that, from
    the records' own signatures under ``public_key``."""
    size = int(cp["size"])
    if len(leaves) < size:
        return len(leaves) + 1, (f"the trail holds {len(leaves)} records but the checkpoint "
                                 f"signed {size}: records {len(leaves) + 1}..{size} are gone")
    if merkle.root(leaves, size).hex() != cp["root"]:
        first = first_difference(rows, earlier) if earlier is not None else None
        reason = f"records 1..{size} no longer produce the signed root"
        if first is not None:
            reason += f"; record {first} differs from the earlier export"
        elif public_key and (first := first_missigned(rows, public_key, size)) is not None:
            reason += f"; record {first} no longer matches its own signature"
        return first, reason
    return None, ""


def verify(rows: Sequence[Mapping[str, Any]], checkpoints: Sequence[Mapping[str, Any]],
           public_key: str | None, earlier: Sequence[Mapping[str, Any]] | None = None
           ) -> dict[str, Any]:
    """Everything the offline verifier checks, as one report."""
    def fail(first: int | None, reason: str) -> dict[str, Any]:
        return {"ok": False, "count": len(rows), "first_bad": first, "reason": reason}

    for i, cp in enumerate(checkpoints):
        err = signature_error(cp, public_key)
        if err:
            return fail(None, f"checkpoint {i + 1}: {err}")
    leaves, broken, why = check_chain(rows)
    ordered = sorted(checkpoints, key=lambda c: int(c["size"]))
    for cp in ordered:
        first, reason = check_checkpoint(leaves, cp, rows, earlier, public_key)
        if reason:
            if broken is not None and (first is None or broken <= first):
                return fail(broken, f"{why} ({reason})")
            return fail(first, reason)
    if broken is not None:
        return fail(broken, why)
    if public_key:
        covered = int(ordered[-1]["size"]) if ordered else 0
        unsigned, why = first_unsigned(rows, public_key, covered)
        if unsigned is not None:
            return fail(unsigned, why)
    for a, b in itertools.pairwise(ordered):
        m, n = int(a["size"]), int(b["size"])
        proof = merkle.consistency_proof(leaves, m, n)
        if not merkle.verify_consistency(m, n, proof, bytes.fromhex(a["root"]),
                                         bytes.fromhex(b["root"])):
            return fail(None, f"the checkpoints of sizes {m} and {n} are not consistent")
    return {"ok": True, "count": len(rows), "first_bad": None, "reason": "",
            "checkpoints": [int(c["size"]) for c in ordered]}


def read_trail(path: Path) -> list[dict[str, Any]]:
    """An exported trail: JSON lines, or one JSON list."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        rows = json.loads(text)
    else:
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"{path} is not an exported audit trail")
    return rows


def read_public_key(value: str) -> str:
    """A base64 Ed25519 public key, given as itself or as a file holding it (or a checkpoint
    written by the installation, whose ``public_key`` is then trusted)."""
    path = Path(value)
    text = path.read_text(encoding="utf-8").strip() if path.is_file() else value.strip()
    if text.startswith("{"):
        text = str(json.loads(text)["public_key"])
    if len(base64.b64decode(text, validate=True)) != 32:
        raise ValueError("the public key must be base64 of 32 bytes")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m facegate.audit.offline",
                                description="Verify an exported audit trail against signed "
                                            "checkpoints, without the service.")
    p.add_argument("trail", type=Path, help="the exported trail (JSON lines)")
    p.add_argument("--checkpoint", "-c", type=Path, action="append", required=True,
                   help="a signed checkpoint (repeatable)")
    p.add_argument("--public-key", "-k", required=True,
                   help="the installation's public key (base64, or a file holding it)")
    p.add_argument("--earlier", type=Path, help="an earlier export, to name the first "
                                                "record that changed since")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    try:
        rows = read_trail(args.trail)
        cps = [json.loads(c.read_text(encoding="utf-8")) for c in args.checkpoint]
        key = read_public_key(args.public_key)
        earlier = read_trail(args.earlier) if args.earlier else None
        out = verify(rows, cps, key, earlier)
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out))
    elif out["ok"]:
        print(f"audit trail intact: {out['count']} records, "
              f"{len(cps)} checkpoint(s) verified")
    else:
        at = f" at record {out['first_bad']}" if out["first_bad"] else ""
        print(f"audit trail BROKEN{at}: {out['reason']}")
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
