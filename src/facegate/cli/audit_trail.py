"""``facegate audit checkpoint``, ``export`` and ``prove``, and the checkpoint half of
``audit verify``: signed tree heads over the trail, and the trail as JSON lines for the offline
verifier (``python -m facegate.audit.offline``). Rule: ``security.controls``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from facegate.cli.common import STATE, actor, emit
from facegate.errors import BadInput
from facegate.service.audit_queries import checkpoint_file_text


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BadInput(f"{path} is not a readable {what}: {e}") from None


def _read_trail(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
        rows = (json.loads(text) if text.lstrip().startswith("[")
                else [json.loads(line) for line in text.splitlines() if line.strip()])
    except (OSError, ValueError) as e:
        raise BadInput(f"{path} is not a readable audit export: {e}") from None
    if not isinstance(rows, list):
        raise BadInput(f"{path} is not an audit export")
    return rows


def verify_against(checkpoint: Path, earlier: Path | None) -> None:
    """The trail against a signed checkpoint; exit 1 naming the first bad record."""
    out = STATE.service.audit.verify_checkpoint(
        actor(), _read_json(checkpoint, "checkpoint"),
        _read_trail(earlier) if earlier else None)
    at = f" at record {out['first_bad']}" if out["first_bad"] else ""
    emit(out, f"audit trail matches the checkpoint of {out['checkpoint_size']} records "
              f"({out['count']} now)" if out["ok"] else f"audit trail BROKEN{at}: {out['reason']}")
    if not out["ok"]:
        raise typer.Exit(1)


def checkpoint(out: Annotated[Path, typer.Option(
        "--out", help="Where to write the signed checkpoint (JSON).")]) -> None:
    """Sign a checkpoint (size, Merkle root, time) of the whole trail; keep it elsewhere."""
    cp = STATE.service.audit.checkpoint(actor())
    out.write_text(checkpoint_file_text(cp), encoding="utf-8")
    emit(cp, f"checkpoint of {cp['size']} records written to {out} (root {cp['root'][:16]}..., "
             f"public key {cp['public_key']})")


def export(out: Annotated[Path, typer.Option(
        "--out", help="Where to write the trail (JSON lines).")]) -> None:
    """Export every audit record, oldest first, as JSON lines (the export is audited)."""
    lines = STATE.service.audit.export_jsonl(actor())
    out.write_text(lines, encoding="utf-8")
    n = lines.count("\n")
    emit({"records": n, "out": str(out)}, f"{n} records written to {out}")


def prove(seq: Annotated[int, typer.Argument(help="The record's sequence number.")],
          size: Annotated[int | None, typer.Option(
              help="Tree size, e.g. a checkpoint's (default: the whole trail).")] = None) -> None:
    """An inclusion proof (RFC 9162) of one record in the tree of the first SIZE records."""
    emit(STATE.service.audit.prove(actor(), seq, size))


def register(audit_app: typer.Typer) -> None:
    audit_app.command("checkpoint")(checkpoint)
    audit_app.command("export")(export)
    audit_app.command("prove")(prove)
