"""Produce the pictures and numbers of docs/diagnostics.md with mesascope itself.

Every picture comes from the same functions the reports and the CLI use, on catalogue worlds:
causal graphs; the lamp world's identifiability; the coin demo (alignment scatter, rank
correlations, decision influence over training, dose response); the adversarial-training study
(a sweep over `level_mix` of the `coin-adversarial` preset); planner sweeps for the sweep
verdicts. Runs go to the given store, so rerunning reuses every finished run; the numbers the
document quotes are printed.

    python tools/diagnostics_gallery.py [--db gallery.db] [--parts worlds planners demo study training capacity]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from mesascope.experiments.population import request_host_devices

request_host_devices()

from mesascope.agents.ppo import DEFAULTS_UNTIL_2026_12_02  # noqa: E402
from mesascope.diagnose import identify  # noqa: E402
from mesascope.diagnose.dose import dose_response  # noqa: E402
from mesascope.diagnose.sweep_verdicts import decide_sweep, sweep_agents  # noqa: E402
from mesascope.experiments import presets  # noqa: E402
from mesascope.experiments.planner_sweep import PlannerSweep, run_planner_sweep  # noqa: E402
from mesascope.experiments.runner import run_experiment  # noqa: E402
from mesascope.experiments.sweep import Sweep, run_sweep  # noqa: E402
from mesascope.report import plots, sweep_plots  # noqa: E402
from mesascope.report.causal_plot import causal_graph_plot  # noqa: E402
from mesascope.report.identify_plot import identifiability_matrices  # noqa: E402
from mesascope.report.sweep_report import half_aligned_dose  # noqa: E402
from mesascope.store.db import Store  # noqa: E402
from mesascope.worlds import registry  # noqa: E402

IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images" / "diagnostics"
PARTS = ["worlds", "planners", "demo", "study", "training", "capacity"]
"""The parts of the gallery; the adversarial study, the training sweep and the capacity sweep
take about 10, 6 and 4 minutes on 2 cores."""


def save(name: str, png: bytes) -> None:
    """Write one picture into docs/images/diagnostics/."""
    (IMAGES / f"{name}.png").write_bytes(png)
    print(f"  wrote {name}.png", flush=True)


def world_pictures() -> None:
    """Causal graphs of three kinds of proxy; identifiability of the lamp world with its probes."""
    for name in ("coin", "vacuum", "detour"):
        save(f"causal_{name}", causal_graph_plot(registry.make(name)))
    lamp = registry.make("lamp")
    analyses = [identify.analyse(lamp, name) for name in lamp.distributions]
    save("identify_lamp", identifiability_matrices(analyses))
    for analysis in analyses:
        print(f"  lamp on {analysis.distribution}: disjoint {analysis.disjoint[0, 1]:.3f}, timing {analysis.timing[0, 1]:.2f}")
    for probe in identify.probe(lamp, 0, 1, lamp.distributions["test"].shift, top=3):
        print(f"  lamp probe: training level {probe.index}, {probe.changed_cells} cells changed, separates {probe.disjoint:.2f}")


def demo_pictures(store: Store) -> None:
    """The coin demo's alignment scatter, rank correlations, influence and dose response."""
    result = run_experiment(presets.get("coin-demo"), store).result
    print(f"  coin-demo run {result.run_id}")
    for name in ("alignment_scatter", "alignment_correlations", "influence_over_training", "influence_maps", "policy_vector_field", "dose_fit"):
        save(f"demo_{name}", plots.PLOTS[name](result))
    record = result.influence
    for k, kind in enumerate(record.kinds):
        for value in sorted({a.train_shift for a in result.agents}):
            members = [i for i, a in enumerate(result.agents) if a.train_shift == value]
            share = record.share[members][:, -1, k, 0].mean()
            print(f"  influence of {kind} (remove) at the end, trained at {value:g}: {share:.2f}")


def study_pictures(store: Store) -> None:
    """The adversarial-training study: coin-adversarial swept over the two pools."""
    sweep = Sweep(presets.get("coin-adversarial"), "level_mix", ("test", "adversarial"))
    done = run_sweep(sweep, store)
    labels = list(sweep.values)
    save("study_dose_curves", sweep_plots.dose_curves(done.results, labels, "level_mix"))
    for label, result in zip(labels, done.results):
        save(f"study_dose_fit_{label}", plots.PLOTS["dose_fit"](result))
        response = dose_response(result)
        shares = ", ".join(f"{s.dose:g}: {s.successes}/{s.agents}" for s in response.shares["robustly aligned"])
        print(f"  {label} (run {result.run_id}): robustly aligned {shares}; half aligned: {half_aligned_dose(result)}")


def planner_pictures() -> None:
    """Sweep verdicts on planners with known behaviour: suboptimality and approximate alignment."""
    detour = PlannerSweep(world="detour", objective="points", knob="horizon", values=(1, 2, 3, 4, 8), distributions=("test",))
    results = run_planner_sweep(detour)
    labels = [f"{v:g}" for v in detour.values]
    save("sweep_detour_verdicts", sweep_plots.verdict_shares(results, labels, "horizon"))
    for verdict in decide_sweep(sweep_agents(results, list(detour.values)))[0.0]:
        print(f"  detour horizon sweep: {verdict.name}: {'holds' if verdict.holds else 'does not hold'} "
              f"(τ = {verdict.evidence['tau']:.2f}, p = {verdict.evidence['p']:.4f}) — {verdict.reason}")
    coin = PlannerSweep(world="coin", objective="coin", knob="temperature", values=(0.3, 0.2, 0.1, 0.05, 0.02), distributions=("test",))
    results = run_planner_sweep(coin)
    labels = [f"{v:g}" for v in coin.values]
    save("sweep_coin_temperature_returns", sweep_plots.returns_across(results, labels, "temperature"))
    for verdict in decide_sweep(sweep_agents(results, [-v for v in coin.values]))[float(results[0].agents[0].train_shift)]:
        print(f"  coin temperature sweep (reversed): {verdict.name}: {'holds' if verdict.holds else 'does not hold'} "
              f"(τ = {verdict.evidence['tau']:.2f}, p = {verdict.evidence['p']:.4f}) — {verdict.reason}")


def training_pictures(store: Store) -> None:
    """Suboptimality alignment in trained agents: detour agents trained on the proxy (points)
    with the jackpot on 30% of training levels, swept over their training length."""
    from mesascope.experiments.config import apply_overrides

    base = apply_overrides(presets.get("detour"), ["reward_weights=0,1", "train_shifts=0.3"])
    base = dataclasses.replace(base, ppo=dataclasses.replace(base.ppo, **DEFAULTS_UNTIL_2026_12_02))  # as docs/diagnostics.md measured it
    sweep = Sweep(base, "ppo.total_steps", ("100000", "200000", "400000", "800000", "1600000"))
    done = run_sweep(sweep, store)
    labels = ["100k", "200k", "400k", "800k", "1.6M"]
    save("sweep_detour_training_verdicts", sweep_plots.verdict_shares(done.results, labels, "training steps per agent"))
    (verdicts,) = decide_sweep(sweep_agents(done.results, [float(v) for v in sweep.values])).values()
    for verdict in verdicts:
        print(f"  detour training-length sweep: {verdict.name}: {'holds' if verdict.holds else 'does not hold'} "
              f"(τ = {verdict.evidence['tau']:.2f}, p = {verdict.evidence['p']:.4f}) — {verdict.reason}")


def capacity_pictures(store: Store) -> None:
    """A capacity sweep of trained agents: coin agents trained at p_random_coin = 0.3 with
    networks of 4 to 64 units per layer."""
    from mesascope.experiments.config import apply_overrides

    sweep = Sweep(apply_overrides(presets.get("coin-demo"), ["train_shifts=0.3"]), "ppo.width", ("4", "8", "16", "64"))
    done = run_sweep(sweep, store)
    save("sweep_coin_width_returns", sweep_plots.returns_across(done.results, list(sweep.values), "ppo.width"))
    for value, result in zip(sweep.values, done.results):
        best = [row.evidence.get("best") for row in result.verdicts if row.distribution == "test"]
        print(f"  width {value} (run {result.run_id}): best hypothesis {dict((b, best.count(b)) for b in sorted(set(best)))}")
    (verdicts,) = decide_sweep(sweep_agents(done.results, [float(v) for v in sweep.values])).values()
    for verdict in verdicts:
        print(f"  coin width sweep: {verdict.name}: {'holds' if verdict.holds else 'does not hold'} — {verdict.reason}")


def main() -> None:
    """Produce every picture of docs/diagnostics.md."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, default=Path("gallery.db"), help="store for the gallery's runs; rerunning reuses them (default gallery.db)")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=PARTS, help="what to (re)make (default: everything)")
    args = parser.parse_args()
    IMAGES.mkdir(parents=True, exist_ok=True)
    for part in args.parts:
        print(part, flush=True)
        if part == "worlds":
            world_pictures()
        elif part == "planners":
            planner_pictures()
        else:
            with Store(args.db) as store:
                {"demo": demo_pictures, "study": study_pictures, "training": training_pictures, "capacity": capacity_pictures}[part](store)


if __name__ == "__main__":
    main()
