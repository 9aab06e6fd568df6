"""Commands of the rule catalogue: ``rules``, ``pia``, ``filing``, ``docs``, ``rights``,
``housekeeping``, ``review``, ``export`` and ``deployment terminate``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from facegate.cli.common import STATE, actor, emit, read_manifest
from facegate.errors import BadInput
from facegate.policy.catalogue import explain, rules_catalogue
from facegate.policy.packs import PACKS

rules_app = typer.Typer(help="The rule catalogue: what each rule checks and why.",
                        no_args_is_help=True)
pia_app = typer.Typer(help="Impact assessments (pia.before-use).", no_args_is_help=True)
filing_app = typer.Typer(help="The filing duty with the cyberspace authority (filing.*).",
                         no_args_is_help=True)
docs_app = typer.Typer(help="Generated documents (PDF or HTML, zh or en).",
                       no_args_is_help=True)
rights_app = typer.Typer(help="The person's requests (rights.access, rights.delete).",
                         no_args_is_help=True)

Lang = Annotated[str, typer.Option(help="zh (Simplified Chinese) or en.")]


def register(app: typer.Typer, deployment_app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")
    app.add_typer(pia_app, name="pia")
    app.add_typer(filing_app, name="filing")
    app.add_typer(docs_app, name="docs")
    app.add_typer(rights_app, name="rights")
    app.command("housekeeping")(housekeeping)
    app.command("review")(review)
    app.command("export")(export)
    deployment_app.command("terminate")(deployment_terminate)


# ---- rules ----------------------------------------------------------------------------------

@rules_app.command("list")
def rules_list(pack: Annotated[str | None, typer.Option(
        help="Only the rules of this pack: " + ", ".join(PACKS))] = None) -> None:
    """Print the catalogue: id, packs, source articles, title."""
    try:
        rules = rules_catalogue(pack)
    except KeyError as e:
        raise BadInput(str(e.args[0])) from None
    emit({"pack": pack, "rules": rules}, "\n".join(
        f"{r['id']:30} {','.join(r['packs']):24} {r['title']['en']}" for r in rules))


@rules_app.command("explain")
def rules_explain(rule_id: str) -> None:
    """What a rule checks, on which operations, with which parameters, and why."""
    try:
        out = explain(rule_id)
    except KeyError as e:
        raise BadInput(str(e.args[0])) from None
    lines = [f"{out['id']}: {out['title']['en']}", f"  {out['title']['zh']}"]
    lines += [f"  source ({p}): {src}" for p, src in out["sources"].items()]
    for c in out["checks"]:
        lines.append(f"  checks on {', '.join(c['operations'])}: {c['what']}")
    if out["remedy"]:
        lines.append(f"  to make a refused request lawful: {out['remedy']['en']}")
    for p, params in out["parameters"].items():
        for k, v in params.items():
            lines.append(f"  {p} {k} = {v}")
    emit(out, "\n".join(lines))


# ---- deployments ----------------------------------------------------------------------------

def deployment_terminate(deployment_id: str) -> None:
    """End face recognition at a deployment: delete its templates, close its consents and
    (cn-2025) start the deregistration filing clock."""
    out = STATE.service.deployments.terminate(actor(), deployment_id)
    emit(out, f"terminated {deployment_id}: {out['deleted']['templates']} template(s) of "
              f"{out['deleted']['subjects']} person(s) deleted; receipt {out['sha256']}")


# ---- impact assessments ---------------------------------------------------------------------

@pia_app.command("record")
def pia_record(deployment: Annotated[str, typer.Option(help="Deployment id.")],
               file: Annotated[Path, typer.Argument(help="YAML/JSON: assessor, assessed_on, "
                                                    "sections (lawfulness, impact, risks, "
                                                    "protections), conclusion.")]) -> None:
    """Record an impact assessment; a deployment is not used without a current one."""
    out = STATE.service.assessments.record(actor(), deployment, read_manifest(file))
    emit(out, f"assessment v{out['version']} of {deployment} recorded; kept until "
              f"{out['keep_until']}")


@pia_app.command("list")
def pia_list(deployment: Annotated[str, typer.Option(help="Deployment id.")]) -> None:
    """The deployment's assessments; the last one is current unless stale."""
    out = STATE.service.assessments.all(actor(), deployment)
    emit({"assessments": out}, "\n".join(
        f"v{a['version']} {a['assessed_on']} by {a['assessor']}; keep until "
        f"{a['keep_until']}{' STALE: ' + a['stale_reason'] if a['stale'] else ''}"
        for a in out) or "no assessment")


@pia_app.command("delete")
def pia_delete(deployment: Annotated[str, typer.Option(help="Deployment id.")],
               version: Annotated[int, typer.Option(help="Assessment version.")]) -> None:
    """Delete an assessment (refused while it must be kept)."""
    emit(STATE.service.assessments.delete(actor(), deployment, version))


@pia_app.command("incident")
def pia_incident(deployment: Annotated[str, typer.Option(help="Deployment id.")],
                 what: Annotated[str, typer.Option(help="What happened.")]) -> None:
    """Record a major incident: the assessment is stale until reassessed."""
    emit(STATE.service.assessments.incident(actor(), deployment, what))


# ---- filing ---------------------------------------------------------------------------------

def _filing_text(out: dict[str, Any]) -> str:
    lines = [f"{out['operator']} ({', '.join(out['deployments']) or 'no active deployment'})",
             f"pack {out['pack']}: {out['persons']} person(s) with stored face data; threshold "
             f"{'>=' if out['inclusive'] else '>'} {out['threshold']}",
             f"filing required: {'yes' if out['required'] else 'no'}"
             + (f" ({', '.join(out['reasons'])}) since {out['crossed_on']}"
                if out["required"] else "")]
    for t in out["tasks"]:
        state = (f"filed {t['filed_on']}" if t["filed_on"] else
                 "OVERDUE" if t["overdue"] else
                 f"{t['working_days_left']} working day(s) left")
        due = t["due_on"]
        if t.get("due_provisional"):
            years = ", ".join(map(str, t["missing_years"]))
            due += (f" (provisional, the earliest possible; load the {years} holiday schedule "
                    "with: facegate filing calendar FILE)")
        lines.append(f"  {t['kind']:10} started {t['started_on']} due {due}: {state}")
    lines += [f"  [{w['level']}] {w['en']}" for w in out["warnings"]]
    if out["what_to_file"]:
        lines.append("  to file with the " + out["authority"] + ": "
                     + "; ".join(out["what_to_file"]))
    return "\n".join(lines)


@filing_app.command("status")
def filing_status(operator: Annotated[str | None, typer.Option(
        help="Only this operator (default: every operator).")] = None) -> None:
    """Each operator's count, threshold, dates (30 Chinese working days), tasks, warnings and
    what to file: the filing duty is each operator's own."""
    if operator is not None:
        one = STATE.service.filing.status(actor(), operator)
        emit(one, _filing_text(one))
        return
    every = STATE.service.filing.statuses(actor())
    emit({"operators": every}, "\n\n".join(_filing_text(o) for o in every)
         or "no operator has a deployment yet")


@filing_app.command("calendar")
def filing_calendar(file: Annotated[Path, typer.Argument(
        help="YAML/JSON: year, source, holidays (dates or from/to ranges), workdays "
             "(make-up working days on a Saturday or Sunday).")]) -> None:
    """Load a year's State Council holiday schedule (a year chinese-calendar does not know).

    It is validated and kept as calendars/<year>.yaml in the data directory, where every
    process reads it; it replaces the provisional (earliest possible) due dates of that year
    with the true ones."""
    out = STATE.service.filing.load_calendar(actor(), read_manifest(file))
    emit(out, f"loaded {out['year']} ({out['holidays']} holiday(s), {out['workdays']} "
              f"make-up workday(s)); known years: {out['known_years'][0]}-"
              f"{out['known_years'][-1]}")


@filing_app.command("record")
def filing_record(reference: Annotated[str, typer.Option(help="The authority's reference.")],
                  filed_on: Annotated[str, typer.Option(help="YYYY-MM-DD")],
                  kind: Annotated[str, typer.Option(
                      help="filing, change or deregister")] = "filing",
                  operator: Annotated[str | None, typer.Option(
                      help="Whose task (needed when several operators).")] = None) -> None:
    """Record that a filing was made."""
    try:
        day = date.fromisoformat(filed_on)
    except ValueError:
        raise BadInput("--filed-on must be a date (YYYY-MM-DD)") from None
    out = STATE.service.filing.record(actor(), kind, day, reference, operator)
    emit(out, _filing_text(out))


# ---- housekeeping, transactions, exports ----------------------------------------------------

def housekeeping() -> None:
    """Delete every template whose retention ended (retention.minimum)."""
    out = STATE.service.housekeeping.run(actor())
    emit(out, f"deleted {out['expired_templates']} expired template(s) of {out['subjects']} "
              "person(s)")


def review(deployment: Annotated[str, typer.Option(help="Deployment id.")],
           transaction: Annotated[str, typer.Option(help="Transaction id.")],
           staff: Annotated[str | None, typer.Option(help="Staff member who checked.")] = None,
           outcome: Annotated[str | None, typer.Option(
               help="confirmed or rejected")] = None,
           subject: Annotated[str | None, typer.Option(help="Subject id.")] = None) -> None:
    """Record the manual identity check that decides a transaction of major interest."""
    out = STATE.service.reviews.review(actor(), deployment, transaction, staff, outcome,
                                           subject)
    emit(out, f"{transaction}: {'APPROVED' if out['approved'] else 'NOT APPROVED'} "
              f"(manual check by {staff}: {outcome})")


def export(subject: Annotated[str, typer.Option(help="Subject id.")],
           basis: Annotated[str | None, typer.Option(
               help="The law or separate consent that allows the export.")] = None,
           with_identity: Annotated[bool, typer.Option(
               help="Join identity data (always refused).")] = False) -> None:
    """Export a subject's templates (refused without a basis; audited)."""
    emit(STATE.service.exports.templates(actor(), subject, basis, with_identity))


# ---- the person's rights --------------------------------------------------------------------

Verified = Annotated[bool, typer.Option(
    "--verified", help="The requester's identity was checked.")]


@rights_app.command("access")
def rights_access(subject: Annotated[str, typer.Option(help="Subject id.")],
                  verified: Verified = False) -> None:
    """What face data is held about the person, where and why."""
    emit(STATE.service.rights.access(actor(), subject, verified))


@rights_app.command("delete")
def rights_delete(subject: Annotated[str, typer.Option(help="Subject id.")],
                  verified: Verified = False) -> None:
    """Delete the person's face data; prints the deletion receipt."""
    emit(STATE.service.rights.delete(actor(), subject, verified))


# ---- documents ------------------------------------------------------------------------------

@docs_app.command("make")
def docs_make(
    kind: Annotated[str, typer.Argument(help="notice, sign, pia, filing or receipt")],
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write (.pdf or .html).")],
    deployment: Annotated[str | None, typer.Option(help="Deployment id.")] = None,
    lang: Lang = "zh",
    size: Annotated[str, typer.Option(help="Sign size: A4 or A3.")] = "A4",
    receipt: Annotated[Path | None, typer.Option(
        help="A deletion receipt (JSON) for kind receipt.")] = None,
    operator: Annotated[str | None, typer.Option(
        help="For kind filing: whose dossier (needed when several operators).")] = None,
    draft: Annotated[bool, typer.Option(
        help="A draft, marked DRAFT: a notice or sign before FACEGATE_PUBLIC_URL is set.")
    ] = False,
) -> None:
    """Render a document to PDF or HTML (by the file's suffix)."""
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("pdf", "html"):
        raise BadInput("--out must end in .pdf or .html")
    body = read_manifest(receipt) if receipt else None
    doc = STATE.service.documents.make(actor(), kind, deployment, lang, size, body,
                                       operator=operator, draft=draft)
    data = doc.pdf() if fmt == "pdf" else doc.html.encode()
    try:
        out.write_bytes(data)
    except OSError as e:
        raise BadInput(f"cannot write {out}: {e.strerror}") from None
    emit({"kind": kind, "lang": doc.lang, "title": doc.title, "file": str(out),
          "bytes": len(data)}, f"wrote {out} ({doc.title}, {len(data)} bytes)")
