"""mesascope: a laboratory for inner alignment.

`mesascope.diagnose_policy` (see `mesascope.experiments.policy`) diagnoses a policy trained
anywhere. It is loaded on first use: this module stays import-free because the Gymnasium hook
(`mesascope.gym_plugin`) imports the package in every interpreter.
"""

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """Lazy public API: `diagnose_policy` and `PolicyDiagnosis` load JAX only when asked for."""
    if name in ("diagnose_policy", "PolicyDiagnosis"):
        from mesascope.experiments import policy

        return getattr(policy, name)
    raise AttributeError(f"module 'mesascope' has no attribute {name!r}")
