"""Backends train cells in this process and in spawned local processes and return the same bytes
for the same cell; cells lost with a killed worker are retried once, and finished cells stay. The Ray backend is exercised against a
real local Ray by tests/experiments/test_grid.py (one Ray start for the suite)."""

from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing
import os
import signal
import threading

import jax
import numpy as np
import pytest

from mesascope.agents.ppo import PPOConfig
from mesascope.experiments.backends import BackendError, LocalBackend, ProcessBackend, make_backend
from mesascope.experiments.config import EvalConfig, ExperimentConfig
from mesascope.experiments.training import decode_cell, encode_cell

TINY_PPO = PPOConfig(total_steps=4 * 128, num_envs=8, num_steps=16, epochs=1, minibatches=1, width=8, depth=1)


def tiny_cell(seed: int, **ppo) -> ExperimentConfig:
    return ExperimentConfig(name=f"cell{seed}", world="corner", train_shifts=(0.0,), seeds=2, seed=seed,
                            ppo=dataclasses.replace(TINY_PPO, **ppo), eval=EvalConfig(checkpoints=2))


def digest(cell) -> str:
    return hashlib.sha256(encode_cell(cell)).hexdigest()


@pytest.fixture(scope="module")
def local_cells():
    cells = [tiny_cell(0), tiny_cell(1)]
    return cells, dict(LocalBackend().train(cells))


def test_a_cell_round_trips_through_its_bytes(local_cells):
    _, trained = local_cells
    cell = trained[0]
    again = decode_cell(encode_cell(cell))
    assert digest(again) == digest(cell)
    assert list(again.checkpoints.steps) == list(cell.checkpoints.steps) and len(cell.checkpoints.steps) == 2
    assert set(again.curves) == set(cell.curves) and again.shift_name == cell.shift_name
    kernel = again.params["params"]["actor"]["Dense_0"]["kernel"]
    assert kernel.shape[0] == 2 and np.array_equal(kernel, cell.params["params"]["actor"]["Dense_0"]["kernel"])
    assert digest(trained[0]) != digest(trained[1])  # another seed, another cell
    with pytest.raises(ValueError, match="not a trained cell"):
        from safetensors.numpy import save

        decode_cell(save({"x": np.zeros(2)}))


def test_process_pool_returns_the_same_bytes_as_this_process(local_cells, monkeypatch):
    """Even when XLA_FLAGS changed after JAX started here (importing the CLI asks for more host
    devices), workers get this process's device count, so they split agents the same way."""
    monkeypatch.setenv("XLA_FLAGS", f"--xla_force_host_platform_device_count={len(jax.devices()) + 1}")
    cells, trained = local_cells
    got = dict(ProcessBackend(workers=2).train(cells))
    assert {i: digest(c) for i, c in got.items()} == {i: digest(c) for i, c in trained.items()}


def test_a_cell_whose_worker_is_killed_twice_fails_and_the_finished_one_stays(local_cells):
    """Two workers: the first cell finishes; from then on every worker is killed, so the slow
    second cell is lost, retried once in a fresh pool, lost again and reported; nothing hangs."""
    cells, trained = local_cells
    slow = tiny_cell(2, total_steps=4000 * 128)  # far longer than the test waits
    finished, stop = {}, threading.Event()

    def kill_workers() -> None:
        while not stop.wait(0.2):
            for child in multiprocessing.active_children():
                os.kill(child.pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_workers, daemon=True)
    try:
        with pytest.raises(BackendError, match=r"cell 1 \(cell2\): BrokenProcessPool.*\(after a retry\)"):
            for index, cell in ProcessBackend(workers=2).train([cells[0], slow]):
                finished[index] = digest(cell)
                if not killer.is_alive():
                    killer.start()
    finally:
        stop.set()
    assert finished == {0: digest(trained[0])}


def test_cells_lost_with_a_broken_pool_are_retried_once_and_own_errors_are_not(monkeypatch):
    """The retry bookkeeping, with pools replaced by a script: a broken pool loses cells 1 and 2;
    the retry pool finishes 1 and loses 2 again; cell 3 raised its own error and is not retried."""
    calls = []

    def scripted_pool(self, cells, todo, failures, lost):
        calls.append(list(todo))
        if len(calls) == 1:
            yield 0, b"cell 0"
            failures.append("cell 3 (c3): ValueError: bad")
            lost.update({1: "BrokenProcessPool: gone", 2: "BrokenProcessPool: gone"})
        else:
            yield 1, b"cell 1"
            lost[2] = "BrokenProcessPool: gone again"

    monkeypatch.setattr(ProcessBackend, "_pool", scripted_pool)
    monkeypatch.setattr("mesascope.experiments.backends.decode_cell", lambda data: data)
    got = []
    with pytest.raises(BackendError) as raised:
        for index, data in ProcessBackend(workers=2).train([tiny_cell(i) for i in range(4)]):
            got.append((index, data))
    assert got == [(0, b"cell 0"), (1, b"cell 1")] and calls == [[0, 1, 2, 3], [1, 2]]
    message = str(raised.value)
    assert "cell 3 (c3): ValueError: bad" in message and "cell 2 (cell2): BrokenProcessPool: gone again (after a retry)" in message
    assert "cell 1 (" not in message


def test_unknown_backend_is_refused_with_the_allowed_names():
    with pytest.raises(BackendError, match=r"backend must be one of \['local', 'processes', 'ray'\]"):
        make_backend("slurm")


ORPHAN = """
import multiprocessing, os, signal, sys, time
from mesascope.experiments.backends import exit_with_parent

def child(parent, path):
    exit_with_parent(parent, period=0.1)
    open(path, "w").write(str(os.getpid()))
    time.sleep(120)

if __name__ == "__main__":
    process = multiprocessing.get_context("spawn").Process(target=child, args=(os.getpid(), sys.argv[1]))
    process.start()
    while not os.path.exists(sys.argv[1]) or not open(sys.argv[1]).read():
        time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGKILL)  # the driver dies outright, its pool cannot shut down
"""


def test_a_worker_ends_when_its_driver_is_killed_outright(tmp_path):
    import subprocess
    import sys
    import time

    script, marker = tmp_path / "driver.py", tmp_path / "child.pid"
    script.write_text(ORPHAN)
    driver = subprocess.run([sys.executable, str(script), str(marker)], timeout=120)
    assert driver.returncode == -signal.SIGKILL
    child = int(marker.read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{child}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":  # ended, not yet reaped by its new parent
                    return
        except FileNotFoundError:
            return
        time.sleep(0.1)
    os.kill(child, signal.SIGKILL)
    raise AssertionError(f"worker {child} outlived its killed driver by 10 s")


def test_a_local_ray_starts_only_when_there_is_something_to_train():
    """A grid whose cells are all stored asks the backend for nothing: no local Ray is started."""
    import ray

    assert not ray.is_initialized()
    backend = make_backend("ray", workers=1)
    assert list(backend.train([])) == [] and not ray.is_initialized()
