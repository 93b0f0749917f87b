"""The training knobs a bias study varies, and what each means for the theory.

Traced knobs (`TRACED_KNOBS`) are numbers that may differ per agent inside one compiled program;
static knobs change shapes or the world and need one program per value. `KNOB_MEANINGS` is what
`mesascope knobs` prints and docs/biases.md explains.
"""

from __future__ import annotations

TRACED_KNOBS: dict[str, str] = {
    "l2": "l2",
    "l1": "l1",
    "ppo.learning_rate": "learning_rate",
    "ppo.entropy_coef": "entropy_coef",
    "time_penalty": "time_penalty",
    "channel_penalty": "channel_penalty",
}
"""Numeric training knobs that may differ per agent inside one compiled program (config key ->
the `Hyper` field it sets). The training shift is one too, through `train_shifts`."""

KNOB_MEANINGS: dict[str, tuple[str, str, str]] = {
    "train_shift": ("traced", "the world's shift dial during training", "diversity of training levels: how often intended and proxy come apart in training"),
    "l2": ("traced", "weight decay on kernels", "simplicity prior: a description-length proxy (small weights)"),
    "l1": ("traced", "L1 penalty on kernels", "simplicity prior: a description-length proxy (few weights)"),
    "ppo.learning_rate": ("traced", "Adam step size", "optimisation pressure per update"),
    "ppo.entropy_coef": ("traced", "entropy bonus", "pressure towards stochastic policies (less committed behaviour)"),
    "time_penalty": ("traced", "loss weight on the expected thinking iterations (halting head)", "speed prior: computation per decision is costly"),
    "channel_penalty": ("traced", "loss weight on the policy's sensitivity to penalised_channel", "internals-based selection: select against using a named feature"),
    "ppo.width": ("static", "hidden units per layer", "simplicity/capacity: fewer units, a simpler function class"),
    "ppo.depth": ("static", "hidden layers", "simplicity/capacity"),
    "ppo.thinking_steps": ("static", "weight-tied block applied K times per decision", "compute per decision (a thinking budget)"),
    "ppo.halting": ("static", "a learned halting head over the thinking iterations", "lets the speed prior act: iterations become variable"),
    "ppo.total_steps": ("static", "environment steps per agent", "training compute"),
}
"""Knob -> (traced or static, what it changes, what it stands for in the theory)."""
