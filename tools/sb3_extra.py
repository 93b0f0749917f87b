"""Install the SB3 extra on demand: a CPU-only torch wheel first, then Stable-Baselines3.

torch is pinned (TORCH_SPEC) because an unpinned `pip install torch` on Linux pulls the CUDA
build and gigabytes of NVIDIA wheels; this project never installs those. Where the pinned
version is not a CPU wheel, set MESASCOPE_TORCH_SPEC to pip arguments that are, e.g.
`torch==2.13.0 --index-url <your CPU wheel index>`. After installing, the script refuses a
CUDA build. Used by tools/sb3_example.py and bench/gym_vector.py.
"""

from __future__ import annotations

import importlib
import os
import shlex
import subprocess
import sys

TORCH_SPEC = "torch==2.13.0"
SB3_SPEC = "stable-baselines3>=2.3"


def ensure_sb3(install: bool = True) -> bool:
    """True when torch (CPU) and SB3 import, installing them first when `install` is set."""
    if _importable():
        return _cpu_only()
    if not install:
        return False
    torch_args = shlex.split(os.environ.get("MESASCOPE_TORCH_SPEC", TORCH_SPEC))
    print(f"installing {' '.join(torch_args)} (CPU), then {SB3_SPEC} ...", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *torch_args], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", SB3_SPEC], check=True)
    importlib.invalidate_caches()
    return _importable() and _cpu_only()


def _importable() -> bool:
    try:
        importlib.import_module("torch")
        importlib.import_module("stable_baselines3")
    except ImportError:
        return False
    return True


def _cpu_only() -> bool:
    import torch

    if torch.version.cuda is not None:
        raise SystemExit(f"torch {torch.__version__} is a CUDA build; this project uses CPU-only torch (see tools/sb3_extra.py)")
    return True
