"""The ``facegate`` command. Exit codes: 0 done, 3 refused by a rule (JSON ``rules``),
2 bad usage or input (JSON ``error``), 1 anything else. ``--json`` prints one JSON object."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import click
import typer

from facegate.cli import compliance
from facegate.cli.common import STATE, actor, emit, read_image, read_manifest, report, seconds
from facegate.cli.engine import engine_app
from facegate.cli.options import show_version, use_config
from facegate.cli.serve import serve
from facegate.errors import BadInput, FacegateError
from facegate.policy.packs import PACKS
from facegate.service import ROLES, Facegate

app = typer.Typer(help="facegate: face recognition inside the law.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
deployment_app = typer.Typer(help="Register and list deployments.", no_args_is_help=True)
subject_app = typer.Typer(help="Subjects (pseudonymous) and their identity data.",
                          no_args_is_help=True)
consent_app = typer.Typer(help="Record and withdraw consents.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)
key_app = typer.Typer(help="API keys and their roles.", no_args_is_help=True)
app.add_typer(deployment_app, name="deployment")
app.add_typer(subject_app, name="subject")
app.add_typer(consent_app, name="consent")
app.add_typer(audit_app, name="audit")
app.add_typer(key_app, name="key")
compliance.register(app, deployment_app)
app.add_typer(engine_app, name="engine")


@app.callback()
def main_options(
    data: Annotated[Path | None, typer.Option(
        "--data", help="Data directory (default: $FACEGATE_DATA or ./facegate-data).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    config: Annotated[Path | None, typer.Option(
        "--config", help="A TOML configuration file (default: $FACEGATE_CONFIG).")] = None,
    version: Annotated[bool, typer.Option("--version", callback=show_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    STATE.data, STATE.json, STATE._service = data, as_json, None
    use_config(config)


@app.command()
def init() -> None:
    """Create the data directory, the master key (outside it) and the database.

    On the first run, also creates one API key per role and prints them once."""
    settings = STATE.settings
    info = Facegate.initialise(settings)
    svc = Facegate(settings)
    keys = []
    if not svc.keys.any():
        keys = [svc.keys.create(actor(), f"initial-{role}", role)
                for role in ("officer", "operator", "auditor")]
    info["api_keys"] = keys
    human = f"initialised {info['data_dir']} (master key: {info['master_key']})"
    if keys:
        human += "\nAPI keys (shown once; keep them safe):\n" + "\n".join(
            f"  {k['role']:9} {k['key']}" for k in keys)
    emit(info, human)


app.command("serve")(serve)


# ---- deployments --------------------------------------------------------------------------

@deployment_app.command("apply")
def deployment_apply(file: Path) -> None:
    """Validate a manifest against the rules and register it, or refuse with rule ids."""
    out = STATE.service.deployments.apply(actor(), read_manifest(file))
    emit(out, f"{'registered' if out['created'] else 'updated'} deployment {out['id']} "
              f"(pack {out['pack']}, notice v{out['notice_version']}); rules passed: "
              + ", ".join(out["decision"]["rules"]))


@deployment_app.command("check")
def deployment_check(file: Path, pack: Annotated[str | None, typer.Option(
        help="Rule pack to check against (default: the manifest's).")] = None) -> None:
    """Check a manifest without registering it, and show how the other pack would differ."""
    raw = read_manifest(file)
    d = STATE.service.deployments.check(raw, pack)
    out = d.to_dict()
    others = {p: STATE.service.deployments.check(raw, p).to_dict() for p in PACKS if p != d.pack}
    out["differences"] = {p: pack_differences(out, o) for p, o in others.items()}
    lines = [f"{'PASS' if f['passed'] else 'FAIL'}{' (!)' if f.get('warning') else ''} "
             f"{f['rule']}: {f['reason']['en']}" for f in out["findings"]]
    for p, diff in out["differences"].items():
        lines.append(f"under {p}:" + ("" if diff else " no difference"))
        lines += [f"  {x}" for x in diff]
    emit(out, "\n".join(lines))
    if not d.allowed:
        raise typer.Exit(3)


def pack_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """What changes from decision ``a`` to ``b``: refusals, flags and rules that apply."""
    diff = []
    for label, key in (("refused", "refused_by"), ("flagged", "warnings")):
        for r in sorted(set(b[key]) - set(a[key])):
            diff.append(f"{label} by {r}")
        for r in sorted(set(a[key]) - set(b[key])):
            diff.append(f"no longer {label} by {r}")
    for r in sorted(set(b["rules"]) - set(a["rules"]) - set(b["refused_by"])
                    - set(b["warnings"])):
        diff.append(f"also checked: {r}")
    for r in sorted(set(a["rules"]) - set(b["rules"])):
        diff.append(f"does not apply: {r}")
    return diff


@deployment_app.command("list")
def deployment_list() -> None:
    """List registered deployments."""
    deps = STATE.service.deployments.all(actor())
    emit({"deployments": deps}, "\n".join(
        f"{d['id']:24} {d['status']:10} {d['mode']:8} {d['purpose']:22} {d['rule_pack']}"
        for d in deps) or "no deployments")


@deployment_app.command("show")
def deployment_show(deployment_id: str) -> None:
    """Show one deployment with its manifest."""
    emit(STATE.service.deployments.get(actor(), deployment_id))


# ---- subjects -----------------------------------------------------------------------------

@subject_app.command("add")
def subject_add(ref: Annotated[str, typer.Option(help="External reference (e.g. staff no.).")],
                birth_date: Annotated[str | None, typer.Option(
                    help="YYYY-MM-DD; decides whether guardian consent is needed.")] = None
                ) -> None:
    """Create a subject; prints its pseudonymous id."""
    born = None
    if birth_date:
        try:
            born = date.fromisoformat(birth_date)
        except ValueError:
            raise BadInput(f"--birth-date {birth_date!r} is not YYYY-MM-DD") from None
    out = STATE.service.subjects.add(actor(), ref, born)
    emit(out, out["id"])


@subject_app.command("show")
def subject_show(subject_id: str) -> None:
    """What is held about a subject (never template values)."""
    emit(STATE.service.subjects.show(actor(), subject_id))


@subject_app.command("find")
def subject_find(ref: Annotated[str, typer.Option(help="External reference.")]) -> None:
    """Find a subject's id by external reference."""
    sid = STATE.service.subjects.find(actor(), ref)
    emit({"id": sid}, sid)


@subject_app.command("delete")
def subject_delete(subject_id: str) -> None:
    """Delete a subject's templates, key and identity; prints the deletion receipt."""
    emit(STATE.service.subjects.delete(actor(), subject_id))


# ---- consents -----------------------------------------------------------------------------

@consent_app.command("grant")
def consent_grant(
    subject: Annotated[str, typer.Option(help="Subject id.")],
    deployment: Annotated[str, typer.Option(help="Deployment id.")],
    purpose: Annotated[str, typer.Option(help="The purpose consented to.")],
    method: Annotated[str, typer.Option(help="electronic | written")] = "electronic",
    guardian_ref: Annotated[str | None, typer.Option(help="Guardian's reference.")] = None,
    guardian_relationship: Annotated[str | None, typer.Option(
        help="Guardian's relationship (e.g. mother).")] = None,
    notice_version: Annotated[int | None, typer.Option(
        help="Notice version shown (default: current).")] = None,
) -> None:
    """Record a separate consent for one deployment and purpose."""
    out = STATE.service.consents.grant(actor(), subject, deployment, purpose, method,
                                      guardian_ref, guardian_relationship, notice_version)
    emit(out, f"consent {out['id']} recorded for {subject} at {deployment} ({purpose})")


@consent_app.command("withdraw")
def consent_withdraw(
    subject: Annotated[str, typer.Option(help="Subject id.")],
    deployment: Annotated[str | None, typer.Option(help="Only this deployment.")] = None,
) -> None:
    """Withdraw consent: templates, index entries and the old key are gone at once."""
    emit(STATE.service.consents.withdraw(actor(), subject, deployment))


@consent_app.command("list")
def consent_list(subject: Annotated[str | None, typer.Option()] = None,
                 deployment: Annotated[str | None, typer.Option()] = None) -> None:
    """List consent records."""
    rows = STATE.service.consents.all(actor(), subject, deployment)
    emit({"consents": rows}, "\n".join(
        f"{c['id']} {c['subject']} {c['deployment']} {c['purpose']} "
        f"{'active' if c['active'] else 'withdrawn ' + str(c['withdrawn_at'])}"
        for c in rows) or "no consents")


# ---- faces --------------------------------------------------------------------------------

@app.command()
def enrol(subject: Annotated[str, typer.Option(help="Subject id.")],
          deployment: Annotated[str, typer.Option(help="Deployment id.")],
          images: Annotated[list[Path], typer.Argument(help="One or more face photos.")]) -> None:
    """Compute and store templates (needs a consent); images are never kept."""
    out = STATE.service.matching.enrol(actor(), subject, deployment,
                                       [read_image(p) for p in images])
    lines = [f"enrolled {len(out['templates'])} template(s) for {subject} at {deployment}"]
    lines += [f"rejected {images[r['image']]}: {r['message']}" for r in out["rejected"]]
    lines += [f"possible duplicate: {d['subject']} {d['score']:.4f}"
              for d in out["possible_duplicates"]]
    emit(out, "\n".join(lines))


@app.command("enrol-batch")
def enrol_batch(
    folder: Annotated[Path, typer.Argument(help="One sub-folder of images per subject "
                                           "reference (the folder's name).")],
    deployment: Annotated[str, typer.Option(help="Deployment id.")],
    consents: Annotated[Path, typer.Option(help="Consent records: CSV (ref, birth_date, "
                                           "method, guardian_ref, guardian_relationship) or "
                                           "YAML/JSON list.")],
    workers: Annotated[int | None, typer.Option(
        help="Worker processes (default: every core; 0: all in this process).")] = None,
) -> None:
    """Enrol many subjects at once, on every core; resumable and idempotent."""
    from facegate.service.batch import enrol_batch as run

    out = run(STATE.service, actor(), folder, deployment, consents, workers,
              progress=not STATE.json)
    lines = [f"enrolled {out['enrolled']} subject(s), {out['templates']} template(s); "
             f"{out['skipped_done']} already done"]
    lines += [f"rejected {r['ref']}/{r['image']}: {r['message']}" for r in out["rejected"]]
    lines += [f"refused {r['ref']}: {r['message']}" for r in out["refused"]]
    if out["no_consent_record"]:
        lines.append("no consent record (not enrolled): " + ", ".join(out["no_consent_record"]))
    emit(out, "\n".join(lines))


@app.command()
def verify(subject: Annotated[str, typer.Option(help="Claimed subject id.")],
           deployment: Annotated[str, typer.Option(help="Deployment id.")],
           image: Path) -> None:
    """1:1 verification against the claimed subject."""
    out = STATE.service.matching.verify(actor(), subject, deployment, read_image(image))
    emit(out, f"{'MATCH' if out['match'] else 'NO MATCH'} score={out['score']:.4f} "
              f"threshold={out['threshold']}")


@app.command()
def identify(deployment: Annotated[str, typer.Option(help="Deployment id.")], image: Path,
             top: Annotated[int, typer.Option(help="At most this many candidates per face.")] = 5
             ) -> None:
    """1:N identification over the templates consented for this deployment, for each face
    in the image (the largest ten)."""
    out = STATE.service.matching.identify(actor(), deployment, read_image(image), top)
    none = f"no candidate above threshold {out['threshold']}"
    if len(out["faces"]) <= 1:
        emit(out, "\n".join(f"{c['subject']} {c['score']:.4f}" for c in out["candidates"])
             or none)
        return
    lines = []
    for n, face in enumerate(out["faces"], start=1):
        b = face["box"]
        lines.append(f"face {n} at {b['left']},{b['top']}-{b['right']},{b['bottom']}:")
        lines += [f"  {c['subject']} {c['score']:.4f}" for c in face["candidates"]] or [
            f"  {none}"]
    emit(out, "\n".join(lines))


@app.command()
def decline(deployment: Annotated[str, typer.Option(help="Deployment id.")],
            subject: Annotated[str | None, typer.Option(help="Subject id, if known.")] = None
            ) -> None:
    """Record that a person chose the non-biometric alternative."""
    out = STATE.service.consents.decline(actor(), deployment, subject)
    alt = out["alternative"] or {}
    emit(out, f"recorded; alternative: {alt.get('method')}: {alt.get('description')}")


@app.command()
def detect(image: Path, attributes: Annotated[str | None, typer.Option(
        help="Comma-separated face attributes (sensitive ones are refused).")] = None) -> None:
    """Find faces and report their quality; nothing is stored."""
    attrs = [a for a in (attributes or "").split(",") if a.strip()]
    emit(STATE.service.matching.detect(actor(), read_image(image), attrs))


# ---- audit and keys -----------------------------------------------------------------------

@audit_app.command("verify")
def audit_verify(checkpoint: Annotated[Path | None, typer.Option(
        help="Also check the trail against this signed checkpoint.")] = None,
                 trail: Annotated[Path | None, typer.Option(
        help="An earlier export (audit export), to name the first changed record.")] = None
                 ) -> None:
    """Check the whole hash chain (and a signed checkpoint); names the first bad record."""
    if checkpoint is not None:
        audit_trail.verify_against(checkpoint, trail)
        return
    out = STATE.service.audit.verify(actor())
    emit(out, f"audit chain intact: {out['count']} records" if out["ok"]
         else f"audit chain BROKEN at record {out['first_broken']}: {out['reason']}")
    if not out["ok"]:
        raise typer.Exit(1)


@audit_app.command("tail")
def audit_tail(n: Annotated[int, typer.Option("-n", help="How many records.")] = 20,
               operation: Annotated[str | None, typer.Option()] = None,
               subject: Annotated[str | None, typer.Option()] = None,
               deployment: Annotated[str | None, typer.Option()] = None) -> None:
    """The latest audit records."""
    rows = STATE.service.audit.tail(actor(), n, operation=operation, subject=subject,
                                    deployment=deployment)
    emit({"records": rows}, "\n".join(
        f"{r['seq']:>6} {seconds(r['at'])} {r['actor']:18} {r['operation']:18} {r['decision']:8} "
        f"{r['subject'] or '-':24} {r['deployment'] or '-':16} {','.join(r['rules'])}"
        for r in rows) or "no records")


from facegate.cli import audit_trail  # noqa: E402 - its commands join the audit group here

audit_trail.register(audit_app)

from facegate.cli import backups  # noqa: E402 - backup and restore join the top level here

backups.register(app)


@key_app.command("create")
def key_create(name: Annotated[str, typer.Option(help="Who or what uses the key.")],
               role: Annotated[str, typer.Option(help="|".join(ROLES))],
               deployment: Annotated[str | None, typer.Option(help="A device's.")] = None,
               device: Annotated[str | None, typer.Option(
                   help="A device key's: one of its deployment's devices.")] = None) -> None:
    """Create an API key; it is shown once."""
    out = STATE.service.keys.create(actor(), name, role, deployment, device)
    emit(out, out["key"])


@key_app.command("list")
def key_list() -> None:
    """List API keys (never their secrets)."""
    emit({"keys": STATE.service.keys.all(actor())})


@key_app.command("revoke")
def key_revoke(key_id: str) -> None:
    """Revoke an API key."""
    emit(STATE.service.keys.revoke(actor(), key_id))


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    STATE.json = "--json" in args[: args.index("--") if "--" in args else len(args)]
    try:
        rc = app(args, standalone_mode=False)
    except FacegateError as e:
        sys.exit(report(e))
    except (typer.Exit, click.exceptions.Exit) as e:
        sys.exit(e.exit_code)
    except (typer.Abort, click.exceptions.Abort):
        sys.exit(1)
    except (typer.TyperException, click.ClickException) as e:
        # usage errors (unknown command, missing option, bad value) carry exit code 2
        if STATE.json:
            typer.echo(json.dumps({"error": "usage", "message": e.format_message()}))
        else:
            typer.echo(f"error: {e.format_message()}\nTry 'facegate --help' for help.",
                       err=True)
        sys.exit(int(getattr(e, "exit_code", 2)) or 2)
    except Exception as e:  # anything else: exit 1 with a message, no traceback for users
        if STATE.json:
            typer.echo(json.dumps({"error": "internal", "message": str(e)}))
        else:
            typer.echo(f"error: {e}", err=True)
        sys.exit(1)
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()
