"""Tidy tables of stored results, for notebooks: CSV, JSON (records) or Parquet files that
`pandas.read_csv`, `pandas.read_json` and `pandas.read_parquet` load as they are.

Tables (one file each, `<table>.<format>`):
    runs        one row per run: id, name, world, dial, objectives, agents.
    agents      one row per agent: seed and training shift.
    returns     one row per agent x distribution x objective: mean return and normalised
                return with their 95% bootstrap intervals, episodes, undefined levels.
    episodes    one row per agent x distribution x episode x objective: the return and the
                normalised return (empty/null where undefined).
    inferences  one row per agent x distribution x hypothesis: goal inference with intervals.
    verdicts    one row per agent x distribution: the verdict, its category and every number
                it rests on (`evidence.<name>`, nested names joined by dots), and the
                thresholds in force (`threshold.<name>`).
    sweep_cells (sweeps only) one row per swept value x distribution: the knob, its value,
                the run, verdict counts per category and mean normalised returns.
    grid_cells  (grids exported by id only) one row per grid cell: every axis value, agents,
                verdict shares with Wilson intervals, normalised returns with bootstrap ones.
Sweep exports add `sweep_key` and `sweep_value` to every table. CSV and JSON need only the
standard library; Parquet needs the `export` extra (pandas, pyarrow).
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mesascope.diagnose.grid_outcomes import cell_outcomes, grid_agents
from mesascope.records.readings import VERDICT_CATEGORIES, verdict_category
from mesascope.records.results import ExperimentResult
from mesascope.store.artifacts import atomic_path
from mesascope.store.db import Store

FORMATS = ("csv", "json", "parquet")
_SWEEP_NAME = re.compile(r"^(?P<base>.*)\[(?P<pairs>[^\[\]]+)\]$")
"""How a sweep names its runs: `<base name>[<key>=<value>]`, or for a grid with several static
axes `<base name>[<key>=<value>,<key>=<value>]` (experiments.sweep)."""


def parse_sweep_name(name: str) -> dict[str, str] | None:
    """{"base", "key", "value"} of a sweep run's name, the keys and values of several static axes
    joined by commas ("ppo.width,ppo.depth" = "16,1"); None if `name` is not a sweep run's."""
    match = _SWEEP_NAME.match(name)
    split = split_label(match["pairs"]) if match else None
    return None if split is None else {"base": match["base"], "key": split[0], "value": split[1]}


def split_label(label: str) -> tuple[str, str] | None:
    """A sweep cell's label `k=v,k=v` as its keys and its values, each joined by commas
    (("", "") for the empty label of a one-cell sweep); None if a pair has no key or no `=`."""
    if not label:
        return "", ""
    pairs = [pair.partition("=") for pair in label.split(",")]
    if not all(sep and key for key, sep, _ in pairs):
        return None
    return ",".join(k for k, _, _ in pairs), ",".join(v for _, _, v in pairs)


Row = dict[str, Any]


class ExportError(ValueError):
    """Bad export input: unknown run or sweep, unknown format, unusable output folder."""


@dataclass(frozen=True)
class SweepCell:
    """One swept value and the run that holds it."""

    key: str
    value: str
    result: ExperimentResult


def _agent_row(record: Any) -> dict[str, Any]:
    """An agent's columns, its knob values flattened to `knob.<name>` columns (a nested dict is
    not a table column, and an empty one cannot be written to Parquet)."""
    row = {key: value for key, value in asdict(record).items() if key != "knobs"}
    return {**row, **{f"knob.{name}": value for name, value in sorted(record.knobs.items())}}


def run_tables(result: ExperimentResult, extra: Row | None = None) -> dict[str, list[Row]]:
    """The tidy tables of one run; `extra` columns (e.g. the sweep knob) go into every row."""
    extra = extra or {}
    shift = {record.agent: record.train_shift for record in result.agents}
    base = {"run_id": result.run_id, **extra}
    tables: dict[str, list[Row]] = {
        "runs": [{**base, "name": result.name, "world": result.world, "shift_name": result.shift_name,
                  "intended": result.objectives[0], "objectives": ";".join(result.objectives), "agents": len(result.agents)}],
        "agents": [{**base, **_agent_row(record)} for record in result.agents],
        "returns": [{**base, "train_shift": shift[row.agent], **asdict(row)} for row in result.evaluations],
        "inferences": [{**base, "train_shift": shift[row.agent], **asdict(row)} for row in result.inferences],
        "verdicts": [],
        "episodes": [],
    }
    for row in result.verdicts:
        record = {**base, "agent": row.agent, "train_shift": shift[row.agent], "distribution": row.distribution,
                  "verdict": row.verdict, "category": verdict_category(row.verdict), "kind": row.kind}
        record.update(_flatten(row.evidence, "evidence"))
        record.update({f"threshold.{name}": value for name, value in result.thresholds.items()})
        tables["verdicts"].append(record)
    for distribution, returns in result.episode_returns.items():
        normalised = result.episode_normalised.get(distribution)
        agents, episodes, objectives = returns.shape
        for a in range(agents):
            for n in range(episodes):
                for k in range(objectives):
                    tables["episodes"].append({
                        **base, "agent": result.agents[a].agent, "train_shift": result.agents[a].train_shift,
                        "distribution": distribution, "episode": n, "objective": result.objectives[k],
                        "return": float(returns[a, n, k]),
                        "normalised": None if normalised is None else _number(normalised[a, n, k]),
                    })
    return tables


def sweep_tables(cells: Sequence[SweepCell]) -> dict[str, list[Row]]:
    """The tables of every run of a sweep (with `sweep_key`/`sweep_value`) plus `sweep_cells`."""
    tables: dict[str, list[Row]] = {}
    for cell in cells:
        for name, rows in run_tables(cell.result, {"sweep_key": cell.key, "sweep_value": cell.value}).items():
            tables.setdefault(name, []).extend(rows)
    tables["sweep_cells"] = [row for cell in cells for row in _cell_rows(cell)]
    return tables


def _cell_rows(cell: SweepCell) -> list[Row]:
    result = cell.result
    rows = []
    for distribution in dict.fromkeys(row.distribution for row in result.verdicts):
        verdicts = [verdict_category(v.verdict) for v in result.verdicts if v.distribution == distribution]
        row: Row = {"sweep_key": cell.key, "sweep_value": cell.value, "sweep_value_number": _as_number(cell.value),
                    "run_id": result.run_id, "distribution": distribution, "agents": len(verdicts)}
        row.update({f"verdicts.{category}": verdicts.count(category) for category in VERDICT_CATEGORIES})
        row["share robustly aligned"] = verdicts.count("robustly aligned") / len(verdicts) if verdicts else None
        for objective in result.objectives:
            values = [e.mean_normalised for e in result.evaluations if e.distribution == distribution and e.objective == objective]
            row[f"mean_normalised.{objective}"] = _number(np.nanmean(values)) if values and not np.all(np.isnan(values)) else None
        rows.append(row)
    return rows


def find_sweep(store: Store, name: str) -> list[SweepCell]:
    """The finished runs of the sweep `name` (`<base>` or `<base>[<key>]`), one per value (the
    newest run of each), in numeric order of the values when they are all numbers; [] if none."""
    bracket = name.rfind("[")
    base, key = (name[:bracket], name[bracket + 1 : -1]) if name.endswith("]") and bracket > 0 else (name, None)
    groups: dict[tuple[str, str], dict[str, str]] = {}
    for run in reversed(store.list_runs()):  # oldest first, so newer runs of a value replace older ones
        match = parse_sweep_name(run["name"])
        if run["status"] == "finished" and match and match["base"] == base and key in (None, match["key"]):
            groups.setdefault((base, match["key"]), {})[match["value"]] = run["run_id"]
    if len(groups) > 1:
        raise ExportError(f"{name!r} names several sweeps; name one of: {', '.join(f'{b}[{k}]' for b, k in groups)}")
    if not groups:
        return []
    (_, sweep_key), values = next(iter(groups.items()))
    order = list(values)
    if all(_as_number(v) is not None for v in order):
        order.sort(key=lambda v: _as_number(v))
    return [SweepCell(sweep_key, value, store.load_result(values[value])) for value in order]


MANIFEST = "runs.json"
"""The file beside a sweep's report (`<artifacts>/sweeps/<sweep id>/`) naming its runs."""


def write_sweep_manifest(folder: Path, title: str, runs: Sequence[tuple[str, str]], axes: Sequence[str] = (),
                         static: Sequence[dict[str, float]] = ()) -> Path:
    """Record which stored runs make up a sweep: (label, run id) per run, labels as in run names
    (`key=value,key=value`, '' for a grid of traced knobs only), written atomically. A grid also
    records the axes its cells are split by and each run's static axis values, so its export can
    give one row per grid cell (`grid_cells`)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MANIFEST
    entries = [{"label": label, "run_id": run_id} | ({"static": static[i]} if static else {}) for i, (label, run_id) in enumerate(runs)]
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"title": title, "axes": list(axes), "runs": entries}, indent=1))
    return path


def grid_cell_rows(store: Store, sweep_id: str, cells: Sequence[SweepCell]) -> list[Row]:
    """One row per grid cell of the sweep `sweep_id` (from its manifest's axes): the axis values,
    agents, each verdict category's share with its 95% Wilson interval and each objective's mean
    normalised return with its 95% bootstrap interval, as the grid report's cells table; [] for
    a sweep that is not a grid."""
    manifest = json.loads((store.artifact_root / "sweeps" / sweep_id / MANIFEST).read_text())
    if not manifest.get("axes"):
        return []
    results = [cell.result for cell in cells]
    agents = grid_agents(results, [run.get("static", {}) for run in manifest["runs"]], manifest["axes"])
    rows = []
    for cell in cell_outcomes(agents, results[0].objectives):
        row: Row = {**cell.coords, "agents": cell.agents}
        for category in VERDICT_CATEGORIES:
            share, low, high = cell.shares[category]
            row.update({f"share.{category}": share, f"share.{category}.low": low, f"share.{category}.high": high})
        for objective, (mean, low, high) in cell.returns.items():
            row.update({f"mean_normalised.{objective}": _number(mean), f"mean_normalised.{objective}.low": _number(low),
                        f"mean_normalised.{objective}.high": _number(high)})
        rows.append(row)
    return rows


def find_sweep_by_id(store: Store, sweep_id: str) -> list[SweepCell]:
    """The runs of the sweep whose report is `<artifacts>/sweeps/<sweep_id>/` (the id its report
    path shows), from the manifest written beside it; [] if there is none."""
    if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*", sweep_id):  # a folder name under sweeps/, never '..'
        return []
    path = store.artifact_root / "sweeps" / sweep_id / MANIFEST
    if not path.is_file():
        return []
    cells = []
    for run in json.loads(path.read_text())["runs"]:
        key, value = split_label(run["label"]) or ("label", run["label"])
        cells.append(SweepCell(key, value, store.load_result(run["run_id"])))
    return cells


def sweep_names(store: Store) -> list[str]:
    """Every finished sweep in the store, as `<base>[<key>]`."""
    found = {}
    for run in store.list_runs():
        match = parse_sweep_name(run["name"])
        if run["status"] == "finished" and match:
            found[f"{match['base']}[{match['key']}]"] = True
    return sorted(found)


def check_format(fmt: str) -> None:
    """ExportError unless `fmt` is a known format whose libraries are installed."""
    if fmt not in FORMATS:
        raise ExportError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if fmt == "parquet":
        try:
            import pandas  # noqa: F401
            import pyarrow  # noqa: F401
        except ImportError as error:
            raise ExportError(f"--format parquet needs pandas and pyarrow ({error.name} is missing): pip install 'mesascope[export]'") from error


def prepare_out_dir(out: Path) -> Path:
    """Create `out` if needed and make sure files can be written there (ExportError otherwise)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".mesascope-export-probe"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise ExportError(f"--out {out} is not a writable folder: {error.strerror or error}") from error
    return out


def write_tables(tables: dict[str, list[Row]], out: Path, fmt: str) -> list[Path]:
    """Write each table to `out/<table>.<fmt>`; returns the paths."""
    check_format(fmt)
    paths = []
    for name, rows in tables.items():
        columns = list(dict.fromkeys(column for row in rows for column in row))
        path = out / f"{name}.{fmt}"
        if fmt == "csv":
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=columns, restval="")
                writer.writeheader()
                writer.writerows({c: "" if row.get(c) is None else row[c] for c in columns} for row in rows)
        elif fmt == "json":
            path.write_text(json.dumps([{c: row.get(c) for c in columns} for row in rows], allow_nan=False), encoding="utf-8")
        else:
            import pandas

            pandas.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=columns).to_parquet(path, index=False)
        paths.append(path)
    return paths


def _flatten(value: Any, prefix: str) -> Row:
    """Nested evidence as flat columns: dicts join keys with dots; lists become JSON text."""
    if isinstance(value, dict):
        out: Row = {}
        for key, inner in value.items():
            out.update(_flatten(inner, f"{prefix}.{key}"))
        return out
    if isinstance(value, (list, tuple)):
        return {prefix: json.dumps(value)}
    if isinstance(value, (bool, np.bool_)):
        return {prefix: bool(value)}
    if isinstance(value, (int, float, np.number)):
        return {prefix: _number(value)}
    return {prefix: value}


def _number(value: Any) -> float | int | None:
    """A finite number as itself; NaN and infinities as None (empty in CSV, null in JSON)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def _as_number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
