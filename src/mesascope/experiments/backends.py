"""Where populations train: in this process, in a local pool of processes, or on Ray.

A backend takes cells (one `ExperimentConfig` each: one compiled program, many agents) and
yields `(index, TrainedCell)` as each finishes, so the caller (the one writer of the store) can
store finished cells while others still train; a cell lost with a worker that died is trained
once more (both pools and Ray retry it once), and if it is lost again it is not yielded, so a rerun
trains only what was not stored. Workers receive the config as JSON and
return the cell as safetensors bytes: the same bytes whichever backend trained it.

Process workers are started with `spawn` (JAX's thread pool does not survive `fork`,
docs/design.md §5) and are given as many host devices as this process has (whatever `XLA_FLAGS`
says now: it may have changed after JAX started here), so every worker splits its population over
the same devices as the driver would, and so computes the same bytes. Ray is an optional extra
(`pip install 'mesascope[ray]'`); with no address it starts a local instance.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

import jax

from mesascope.experiments.config import ExperimentConfig, from_dict
from mesascope.experiments.population import HOST_DEVICE_FLAG
from mesascope.experiments.training import TrainedCell, decode_cell, encode_cell, train_cell

BACKENDS = ("local", "processes", "ray")
"""Names `--backend` accepts."""


class BackendError(RuntimeError):
    """A backend could not be used (a missing extra, an unreachable cluster) or a cell failed."""


class Backend(Protocol):
    """Trains cells and yields them as they finish."""

    def train(self, cells: Sequence[ExperimentConfig]) -> Iterator[tuple[int, TrainedCell]]:
        """Yield `(index into cells, trained cell)` in the order cells finish."""
        ...


def worker_xla_flags() -> str:
    """`XLA_FLAGS` for a worker: this process's flags with its actual number of host devices."""
    flags = [flag for flag in os.environ.get("XLA_FLAGS", "").split() if not flag.startswith(HOST_DEVICE_FLAG)]
    return " ".join([*flags, f"{HOST_DEVICE_FLAG}={len(jax.devices())}"])


def exit_with_parent(parent: int, period: float = 1.0) -> None:
    """Process-pool initializer: end this worker (`os._exit`) once its parent, the driver, is
    gone. A driver killed outright (SIGKILL) cannot shut its pool down, and its workers would
    otherwise live on, blocked writing results to a pipe nobody reads."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(period)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def train_encoded(config_json: str) -> bytes:
    """A worker's job: train the cell whose config is `config_json`, return it encoded."""
    return encode_cell(train_cell(from_dict(json.loads(config_json))))


class LocalBackend:
    """Train each cell in this process, one after another (the default)."""

    def train(self, cells: Sequence[ExperimentConfig]) -> Iterator[tuple[int, TrainedCell]]:
        """Yield each cell as soon as it is trained."""
        for index, config in enumerate(cells):
            yield index, decode_cell(train_encoded(json.dumps(config.to_dict())))


class ProcessBackend:
    """Train cells in a pool of `workers` spawned local processes (default: one per core).

    A worker that dies (killed, out of memory) breaks the whole pool, and every cell not yet
    finished is lost with it, not only the dead worker's. Those cells are trained again once,
    in a fresh pool (`retries`), as Ray retries a task whose worker died; a cell whose own code
    raised is not retried."""

    def __init__(self, workers: int = 0, retries: int = 1):
        self.workers = workers or max(1, os.cpu_count() or 1)
        self.retries = retries

    def train(self, cells: Sequence[ExperimentConfig]) -> Iterator[tuple[int, TrainedCell]]:
        """Yield cells as workers finish them; a failed cell raises BackendError after the others."""
        failures: list[str] = []
        todo = list(range(len(cells)))
        for attempt in range(self.retries + 1):
            lost: dict[int, str] = {}
            for index, data in self._pool(cells, todo, failures, lost):
                yield index, decode_cell(data)
            if not lost:
                break
            if attempt == self.retries:
                failures += [f"cell {i} ({cells[i].name}): {message}" + (" (after a retry)" if self.retries else "") for i, message in lost.items()]
            todo = sorted(lost)
        if failures:
            raise BackendError("cells failed in the process pool: " + "; ".join(failures))

    def _pool(self, cells: Sequence[ExperimentConfig], todo: list[int], failures: list[str], lost: dict[int, str]) -> Iterator[tuple[int, bytes]]:
        """Train `cells[i]` for i in `todo` in one pool, yielding (i, encoded cell); a cell's
        own error goes to `failures`, a cell lost with a dead worker to `lost`."""
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(self.workers, len(todo)) or 1, mp_context=context,
                                 initializer=exit_with_parent, initargs=(os.getpid(),)) as pool:
            saved = os.environ.get("XLA_FLAGS")
            os.environ["XLA_FLAGS"] = worker_xla_flags()  # spawned workers copy the environment as they start
            try:
                pending = {pool.submit(train_encoded, json.dumps(cells[i].to_dict())): i for i in todo}
            finally:
                if saved is None:
                    os.environ.pop("XLA_FLAGS", None)
                else:
                    os.environ["XLA_FLAGS"] = saved
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    index = pending.pop(future)
                    try:
                        data = future.result()
                    except BrokenProcessPool as error:
                        lost[index] = f"{type(error).__name__}: {error}"
                        continue
                    except Exception as error:  # the cell's own error, raised in the worker
                        failures.append(f"cell {index} ({cells[index].name}): {type(error).__name__}: {error}")
                        continue
                    yield index, data


class RayBackend:
    """Train cells as Ray tasks: on the cluster at `address` ("auto" for the one this machine
    belongs to), connected at once so that a wrong address is refused before any work; or on a
    local instance with `num_cpus` CPUs, started when there is first something to train (a grid
    whose cells are all stored starts none)."""

    def __init__(self, address: str | None = None, num_cpus: int | None = None):
        try:
            import ray  # the optional extra; imported here so the core install needs no Ray
        except ImportError:
            raise BackendError("the ray backend needs Ray: pip install 'mesascope[ray]'") from None
        self.ray, self.address, self.num_cpus = ray, address, num_cpus
        self.task = None
        if address is not None:
            self._connect()

    def _connect(self) -> None:
        """Join (or start) Ray and declare the training task, once."""
        ray = self.ray
        if not ray.is_initialized():
            try:
                with warnings.catch_warnings():
                    # Ray starts its raylet and workers by fork + exec, which cannot deadlock on
                    # JAX's threads (the child execs at once); JAX's warning says it would.
                    warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
                    ray.init(address=self.address, num_cpus=None if self.address else self.num_cpus, include_dashboard=False, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as error:
                raise BackendError(f"could not reach a Ray cluster at {self.address!r}: {error}") from None
        env = {"XLA_FLAGS": worker_xla_flags()}
        # max_retries: a task whose worker dies runs once more (not one whose own code raised)
        self.task = ray.remote(num_cpus=1, max_retries=1)(train_encoded).options(runtime_env={"env_vars": env})

    def train(self, cells: Sequence[ExperimentConfig]) -> Iterator[tuple[int, TrainedCell]]:
        """Yield cells as their tasks finish; failed cells raise BackendError after the others."""
        if not cells:
            return
        if self.task is None:
            self._connect()
        pending = {self.task.remote(json.dumps(config.to_dict())): i for i, config in enumerate(cells)}
        failures: list[str] = []
        while pending:
            done, _ = self.ray.wait(list(pending), num_returns=1)
            for ref in done:
                index = pending.pop(ref)
                try:
                    data = self.ray.get(ref)
                except Exception as error:  # a task's error or a lost worker
                    failures.append(f"cell {index} ({cells[index].name}): {type(error).__name__}: {error}")
                    continue
                yield index, decode_cell(data)
        if failures:
            raise BackendError("cells failed on Ray: " + "; ".join(failures))


def make_backend(name: str, workers: int = 0, address: str | None = None) -> Backend:
    """The backend called `name` (one of BACKENDS)."""
    if name == "local":
        return LocalBackend()
    if name == "processes":
        return ProcessBackend(workers)
    if name == "ray":
        return RayBackend(address, num_cpus=workers or None)
    raise BackendError(f"backend must be one of {list(BACKENDS)}, got {name!r}")
