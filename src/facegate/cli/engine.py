"""``facegate engine``: the engine in use, its calibration, who needs re-enrolment, and
re-keying a deployment's protected templates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facegate.cli.common import STATE, actor, emit
from facegate.errors import BadInput

engine_app = typer.Typer(help="The face engine: thresholds, calibration, re-enrolment.",
                         no_args_is_help=True)


@engine_app.command("status")
def engine_status() -> None:
    """The engine and threshold in use; each deployment's engine and migration; subjects
    whose templates need re-enrolment."""
    out = STATE.service.engines.status(actor())
    lines = [f"engine {out['engine']}, threshold {out['threshold']}, "
             f"{out['templates_current']} current template(s)"]
    for d in out["deployments"]:
        line = f"{d['deployment']}: {d['engine']}"
        if d["migrating_to"]:
            p = d["progress"]
            line += (f" -> {d['migrating_to']}: {p['subjects_moved']} moved, "
                     f"{p['subjects_left']} left ({p['share']:.0%})")
        lines.append(line)
    lines += [f"re-enrol {s['subject']} at {s['deployment']}: {s['templates']} template(s) "
              f"from {s['engine']}" for s in out["needs_reenrolment"]]
    emit(out, "\n".join(lines))


@engine_app.command("migrate")
def engine_migrate(
    deployment: Annotated[str, typer.Option(help="The deployment to move.")],
    to: Annotated[str | None, typer.Option(
        help="Engine key (name/model_version); default: the installation's engine.")] = None,
) -> None:
    """Move a deployment to another engine without keeping images: each person who then
    verifies against an old template gets a new one from the same live image."""
    out = STATE.service.engines.migrate(actor(), deployment, to)
    emit(out, f"{out['deployment']}: {out['from']} -> {out['migrating_to'] or out['engine']}"
              + (" (switched: no old template left)" if out["switched"] else
                 f", {out['remaining']} old template(s) to move as people verify"))


@engine_app.command("rekey")
def engine_rekey(
    deployment: Annotated[str, typer.Option(help="The deployment to re-key.")],
) -> None:
    """Renew a deployment's protected templates: a new secret rotation of what its index
    holds (ISO/IEC 24745), the index rebuilt under it in every process."""
    out = STATE.service.engines.rekey(actor(), deployment)
    emit(out, f"{out['deployment']}: index epoch {out['previous_epoch']} -> {out['epoch']}")


@engine_app.command("calibrate")
def engine_calibrate(
    lfw: Annotated[Path, typer.Option(help="A face set in LFW's format (pairs.txt, images/), "
                                      "e.g. ../shared/data/lfw.")],
    limit: Annotated[int | None, typer.Option(help="Only the images of N random pairs.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random subset.")] = 0,
    workers: Annotated[int | None, typer.Option(help="Processes (default: every core).")] = None,
) -> None:
    """Measure the engine on a labelled face set and print the threshold for each target
    false-match rate (the table behind the default threshold)."""
    import random

    import numpy as np

    from facegate.engine import engine_factory
    from facegate.engine.calibration import (
        TemplateCache,
        all_pair_scores,
        calibration_table,
        default_cache,
        read_pairs,
        templates,
    )

    if not (lfw / "pairs.txt").is_file():
        raise BadInput(f"{lfw} has no pairs.txt (LFW format expected)")
    pairs = read_pairs(lfw / "pairs.txt")
    if limit:
        pairs = random.Random(seed).sample(pairs, min(limit, len(pairs)))  # noqa: S311
    factory = engine_factory(STATE.settings.engine_config)
    engine = factory()
    cache = TemplateCache(default_cache(engine))
    paths = list(dict.fromkeys(p for pair in pairs for p in (pair.a, pair.b)))
    templates(lfw, paths, factory, cache, workers, progress=not STATE.json)
    present = [p for p in paths if p in cache.vectors]
    genuine, impostor = all_pair_scores(np.stack([cache.vectors[p] for p in present]),
                                        [p.split("/")[1] for p in present])
    table = calibration_table(genuine, impostor)
    out = {"engine": f"{engine.name}/{engine.model_version}", "images": len(present),
           "genuine": len(genuine), "impostor": len(impostor), "table": table}
    emit(out, "\n".join(
        [f"{out['engine']} on {len(present)} images: {len(genuine)} genuine, "
         f"{len(impostor)} impostor scores",
         f"{'target FMR':>10}  {'threshold':>9}  {'FMR':>9}  {'FNMR':>7}"]
        + [f"{r['fmr_target']:>10g}  {r['threshold']:>9.4f}  {r['fmr']:>9.2e}  "
           f"{r['fnmr']:>7.4f}{'' if r['resolved'] else '  (too few impostor scores)'}"
           for r in table]))
