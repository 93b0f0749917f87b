"""`mesascope diagnose RUN`: diagnose a finished run's trained agents again, under new evaluation
settings or thresholds (or new diagnostic code), without training them again."""

from __future__ import annotations

from pathlib import Path

import typer

from mesascope.commands.common import DB_OPTION, RUN_ARGUMENT, fail, load_finished, run_and_print


def diagnose(
    run_id: str = RUN_ARGUMENT,
    assignments: list[str] = typer.Option([], "--set", help="Override an evaluation setting or threshold, e.g. --set thresholds.min_support=0.99 --set eval.episodes=256 (repeatable); keys that change training are refused."),
    db: Path = DB_OPTION,
    force: bool = typer.Option(False, "--force", help="Redo the diagnosis even if an identical one is finished."),
) -> None:
    """Re-diagnose a finished run from its stored parameters: a new run that shares the old one's
    training id (no training), with its own verdicts and report."""
    from mesascope.experiments import config as config_module
    from mesascope.experiments.runner import DIAGNOSIS_ONLY, training_id_for

    result = load_finished(run_id, db)
    try:
        base = config_module.from_dict(result.config)
        config = config_module.apply_overrides(base, list(assignments))
    except (TypeError, ValueError) as error:
        fail(str(error))
    if training_id_for(config) != training_id_for(base):
        keys = [a.split("=", 1)[0].strip() for a in assignments]
        changed = [k for k in keys if k.split(".")[0] not in DIAGNOSIS_ONLY or k == "eval.checkpoints"]
        changes = f"{', '.join(changed)} {'changes' if len(changed) == 1 else 'change'}" if changed else "these settings change"
        fail(f"{changes} what is trained; `mesascope diagnose` only changes "
             "evaluation settings (eval.*, but eval.checkpoints) and thresholds (thresholds.*). Train anew with `mesascope run`.")
    run_and_print(config, db, force, trained_by=result.run_id)
