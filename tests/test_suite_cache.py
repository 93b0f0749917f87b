"""The suite's compilation cache (tests/conftest.py) is a temporary directory that a run of the
suite removes when it ends, worker processes included, and that it creates only once."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(180)
def test_a_run_of_the_suite_leaves_no_cache_behind(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    env["TMPDIR"] = str(tmp_path)
    target = "tests/store/test_trust.py"
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile", target],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=170)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert " passed" in run.stdout
    assert not list(tmp_path.glob("mesascope-test-xla-*")), "the suite left its compilation cache in the temporary directory"
