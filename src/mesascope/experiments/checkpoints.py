"""Training checkpoints: when they are taken, and how a run saves and loads them.

A checkpoint holds the parameters of every agent of a population (a leading agent axis) after
some number of PPO updates. Each is saved as `params_step{N}.safetensors` with its JSON
manifest (N: environment steps per agent), and `checkpoints.json` lists them in order; nothing
is pickled. The last checkpoint is the final parameters: it is stored once, as the run's
`params` files, and the index points there. Runs stored before checkpoints existed have only their final `params`: loading them
gives that one checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from mesascope.store import artifacts

INDEX = "checkpoints.json"
INDEX_FORMAT = "mesascope-checkpoints"


@dataclass
class Checkpoints:
    """Parameters of every agent at points spread over training.

    Attributes:
        steps: (C,) environment steps per agent at each checkpoint, increasing; the last is
            the end of training.
        params: C pytrees of NumPy arrays, each with a leading agent axis.
    """

    steps: np.ndarray
    params: list[Any]

    def __post_init__(self) -> None:
        if len(self.steps) != len(self.params) or len(self.params) == 0:
            raise ValueError(f"Checkpoints needs one params pytree per step, got {len(self.params)} for {len(self.steps)} steps")


def checkpoint_updates(total: int, count: int, per_chunk: int) -> list[int]:
    """The PPO updates after which to take `count` checkpoints, evenly spread over `total`
    updates, the last at `total`, at most one per update. They are moved onto multiples of
    `per_chunk` (the training loop's chunk size, so no extra chunk size is compiled) when that
    keeps them distinct."""
    if total < 1 or count < 1 or per_chunk < 1:
        raise ValueError(f"total, count and per_chunk must be >= 1, got {total}, {count}, {per_chunk}")
    count = min(count, total)
    exact = [round(total * (i + 1) / count) for i in range(count)]
    aligned = [min(total, max(per_chunk, per_chunk * round(u / per_chunk))) for u in exact[:-1]] + [total]
    return aligned if len(set(aligned)) == count and aligned == sorted(aligned) else exact


SPACINGS = ("even", "geometric")
"""How checkpoints are spread over training: evenly, or geometrically (dense early, where a
policy moves fastest from its initialisation)."""


def geometric_updates(total: int, count: int) -> list[int]:
    """`count` distinct PPO updates spaced geometrically from the first update to `total`
    (the last), each at least one after the one before (so early ones are 1, 2, 3, ... when
    the geometric steps are below one update)."""
    if total < 1 or count < 1:
        raise ValueError(f"total and count must be >= 1, got {total}, {count}")
    count = min(count, total)
    if count == 1:
        return [total]
    ratio = total ** (1.0 / (count - 1))
    marks: list[int] = []
    for i in range(count):
        # leave room for the marks still to come, each one update after the previous
        low, high = (marks[-1] + 1 if marks else 1), total - (count - 1 - i)
        marks.append(min(high, max(low, round(ratio**i))))
    return marks


def schedule(spacing: str, total: int, count: int, per_chunk: int) -> list[int]:
    """The checkpoint updates of `spacing` (one of SPACINGS); ValueError naming the allowed ones."""
    if spacing == "even":
        return checkpoint_updates(total, count, per_chunk)
    if spacing == "geometric":
        return geometric_updates(total, count)
    raise ValueError(f"checkpoint spacing must be one of {list(SPACINGS)}, got {spacing!r}")


def _stem(step: int) -> str:
    return f"params_step{int(step)}"


FINAL_STEM = "params"
"""The final parameters' files, which are also the last checkpoint."""


def save(run_dir: Path, checkpoints: Checkpoints, manifest: Mapping[str, Any]) -> list[Path]:
    """Write every checkpoint but the last (safetensors + JSON manifest each), then the
    final parameters as `params`, then the index; return every path written."""
    stems, written = [], []
    last = len(checkpoints.params) - 1
    for i, (step, params) in enumerate(zip(checkpoints.steps, checkpoints.params)):
        stem = FINAL_STEM if i == last else _stem(step)
        extra = {} if i == last else {"step": int(step), "checkpoint": i}
        written += artifacts.save_params(run_dir / stem, params, {**manifest, **extra})
        stems.append(stem)
    index = {"format": INDEX_FORMAT, "steps": [int(s) for s in checkpoints.steps], "stems": stems}
    path = run_dir / INDEX
    with artifacts.atomic_path(path) as tmp:
        tmp.write_text(json.dumps(index, indent=2), encoding="utf-8")
    return [*written, path]


def load(run_dir: Path, final_step: int) -> Checkpoints:
    """The checkpoints saved in `run_dir`; for a run saved before checkpoints existed, its final
    `params` as one checkpoint at `final_step`. FileNotFoundError when neither exists."""
    path = run_dir / INDEX
    if not path.is_file():
        params, _ = artifacts.load_params(run_dir / "params")
        return Checkpoints(steps=np.array([final_step], np.int64), params=[params])
    index = artifacts.read_json(path)
    if index.get("format") != INDEX_FORMAT or not isinstance(index.get("stems"), list) or not isinstance(index.get("steps"), list):
        raise ValueError(f"{path} is not a {INDEX_FORMAT} index (format, steps and stems)")
    params = [artifacts.load_params(run_dir / str(stem))[0] for stem in index["stems"]]
    return Checkpoints(steps=np.asarray(index["steps"], np.int64), params=params)
