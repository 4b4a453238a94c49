"""Optimiser and learning-rate schedule of the training protocol (DARTS / Yang et al. style).

SGD with (Nesterov) momentum, weight decay only on weight matrices and kernels (never on
BatchNorm parameters or biases), and a per-step schedule: linear warm-up, then cosine to 0.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nago.errors import ConfigError


def param_groups(model: nn.Module, *, weight_decay: float) -> list[dict]:
    """Split trainable parameters into a decayed group (``ndim > 1``) and an undecayed one.

    Parameters with ``ndim <= 1`` are BatchNorm / LayerNorm scales and shifts, biases and scalar
    gates (such as the sigmoid merge weights of HNAG nodes); decaying them only hurts.

    Returns:
        ``[{"params": decayed, "weight_decay": weight_decay}, {"params": others, "weight_decay": 0.0}]``,
        leaving out an empty group.
    """
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim > 1 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def build_sgd(
    model: nn.Module, *, lr: float, momentum: float, nesterov: bool, weight_decay: float
) -> torch.optim.SGD:
    """SGD over :func:`param_groups`; a model without trainable parameters is a :class:`ConfigError`."""
    groups = param_groups(model, weight_decay=weight_decay)
    if not groups:
        raise ConfigError(f"model {type(model).__name__}: has no trainable parameters; allowed: a model with some")
    return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov)


class WarmupCosine:
    """Learning rate per optimisation step: linear warm-up, then half a cosine down to 0.

    ``lr(s) = base_lr * (s + 1) / warmup_steps`` for ``s < warmup_steps``, then
    ``base_lr * (1 + cos(pi * (s - warmup_steps) / (total_steps - warmup_steps))) / 2``,
    so the first post-warm-up step uses ``base_lr`` and the last step a value close to 0.

    Args:
        base_lr: peak learning rate.
        total_steps: optimisation steps of the whole run (>= 1).
        warmup_steps: steps of linear warm-up, clipped to ``total_steps``.
    """

    def __init__(self, *, base_lr: float, total_steps: int, warmup_steps: int = 0) -> None:
        if total_steps < 1:
            raise ConfigError(f"schedule: total_steps={total_steps}; allowed: >= 1")
        if warmup_steps < 0:
            raise ConfigError(f"schedule: warmup_steps={warmup_steps}; allowed: >= 0")
        self.base_lr = base_lr
        self.total_steps = total_steps
        self.warmup_steps = min(warmup_steps, total_steps)

    def __call__(self, step: int) -> float:
        """Learning rate of 0-based step ``step``."""
        if step < self.warmup_steps:
            return self.base_lr * (step + 1) / self.warmup_steps
        progress = (step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1)
        return self.base_lr * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> float:
        """Set every parameter group of ``optimizer`` to the rate of ``step`` and return it."""
        lr = self(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        return lr
