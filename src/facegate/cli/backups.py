"""``facegate backup`` and ``facegate restore``: archives without subject keys, and a key vault
that every deletion reaches, so a restore never brings back a deleted subject
(``consent.withdraw``, ``rights.delete``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facegate.cli.common import STATE, actor, emit
from facegate.service import Facegate


def backup(out: Annotated[Path, typer.Option(
        "--out", help="Backup folder, outside the data directory: the archive is written "
                      "there, and the subject keys to subject-keys.db beside it.")]) -> None:
    """Archive every table except the subject keys; the keys go to the folder's vault, which
    every later deletion or withdrawal updates at once."""
    data = STATE.settings.data_dir.resolve()
    if out.resolve().is_relative_to(data):
        emit({"error": "bad_input"}, f"the backup folder must be outside {data}")
        raise typer.Exit(2)
    done = STATE.service.backups.create(actor(), out)
    emit(done, f"archive {done['archive']} ({sum(done['rows'].values())} rows, sha256 "
               f"{done['sha256'][:16]}...)\nkeys of {done['keys']} subjects in {done['vault']}"
               "\nKeep the vault where the installation can reach it: deletions update it."
               + "".join(f"\nOUT OF REACH since a deletion (its keys are removed when it is "
                         f"back): {v}" for v in done["vaults_out_of_reach"]))


def restore(archive: Annotated[Path, typer.Argument(help="A .fgbackup archive.")],
            vault: Annotated[Path | None, typer.Option(
                help="The key vault (default: subject-keys.db beside the archive).")] = None,
            ) -> None:
    """Restore an archive into a new, empty data directory or database, under the master key
    it was made with. Subjects deleted since the archive was made stay deleted."""
    Facegate.initialise(STATE.settings)
    done = STATE.service.backups.restore(actor(), archive, vault)
    gone = done["subjects_gone"]
    emit(done, f"restored {sum(done['rows'].values())} rows from {archive} "
               f"(made {done['created_at']}): {done['subjects_restored']} subjects with their "
               f"keys; {len(gone)} deleted or re-keyed since, kept deleted"
               + (f": {', '.join(gone)}" if gone else ""))


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
