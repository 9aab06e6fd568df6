"""The audit trail: append-only, hash-chained, verifiable offline."""

from facegate.audit.trail import (
    AuditEntry,
    ChainReport,
    append,
    record_dict,
    tail,
    verify_chain,
    verify_rows,
)

__all__ = [
    "AuditEntry", "ChainReport", "append", "record_dict", "tail", "verify_chain", "verify_rows",
]
