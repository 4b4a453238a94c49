"""TrainConfig: the training protocol of one network, validated on construction.

Re-exported by :mod:`nago.training.train`; run configs give it as a ``[train]`` table with an optional
``[train.augment]`` sub-table (:class:`~nago.training.data.augment.AugmentConfig`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from nago.training.data.augment import AugmentConfig
from nago.training.device import AMP_MODES
from nago.errors import ConfigError


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "epochs": (lambda v: _is_num(v) and v > 0, "a number > 0 (a fraction rounds up to whole epochs)"),
    "batch_size": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "lr": (lambda v: _is_num(v) and v > 0, "a number > 0"),
    "momentum": (lambda v: _is_num(v) and 0 <= v < 1, "a number in [0, 1)"),
    "nesterov": (_is_bool, "true or false"),
    "weight_decay": (lambda v: _is_num(v) and v >= 0, "a number >= 0"),
    "warmup_epochs": (lambda v: _is_num(v) and v >= 0, "a number >= 0 (clipped to the run's length)"),
    "label_smoothing": (lambda v: _is_num(v) and 0 <= v < 1, "a number in [0, 1)"),
    "grad_clip": (lambda v: _is_num(v) and v >= 0, "a number >= 0 (max gradient norm, 0 = off)"),
    "amp": (lambda v: isinstance(v, str) and v in AMP_MODES, ", ".join(AMP_MODES)),
    "channels_last": (lambda v: v is None or _is_bool(v), "true, false or unset (= on CUDA only)"),
    "time_limit_s": (lambda v: v is None or (_is_num(v) and v > 0), "a number of seconds > 0 or unset"),
    "eval_batch_size": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "progress": (_is_bool, "true or false"),
    "profile_data": (_is_bool, "true or false"),
    "augment": (lambda v: isinstance(v, AugmentConfig), "an AugmentConfig / [train.augment] table"),
}


@dataclass(frozen=True)
class TrainConfig:
    """How one network is trained (defaults: NAGO's final-training protocol, research/nago.md §5).

    Attributes:
        epochs: training epochs; a fractional budget (BOHB) is rounded **up** to whole epochs, so
            every run ends a full cosine schedule over whole passes (see :attr:`num_epochs`).
        batch_size: training images per step.
        lr: peak learning rate (SGD).
        momentum: SGD momentum.
        nesterov: Nesterov momentum (needs ``momentum > 0``).
        weight_decay: L2 coefficient on parameters with ``ndim > 1`` only (not BN / biases).
        warmup_epochs: linear warm-up length, then cosine to 0; stepped per batch.
        label_smoothing: cross-entropy label smoothing during training.
        grad_clip: max global gradient norm; 0 = off.
        amp: ``"auto"`` (bf16 on CUDA where supported, else fp16 with GradScaler), ``"bf16"``,
            ``"fp16"`` or ``"off"``. AMP is CUDA-only; on other devices it is always off.
        channels_last: channels-last memory format; ``None`` = on CUDA only.
        time_limit_s: wall-clock limit of the training loop (evaluation excluded); ``None`` = none.
        eval_batch_size: images per evaluation batch.
        progress: show a tqdm bar per run (epochs, loss, images/s).
        profile_data: on CUDA, measure ``data_fraction`` (costs two syncs per step). On the CPU it
            is always measured, since it is free there.
        augment: training-time augmentations.
    """

    epochs: float = 10
    batch_size: int = 96
    lr: float = 0.025
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 3e-4
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    grad_clip: float = 5.0
    amp: str = "auto"
    channels_last: bool | None = None
    time_limit_s: float | None = None
    eval_batch_size: int = 512
    progress: bool = True
    profile_data: bool = False
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        for name, (ok, allowed) in _RULES.items():
            value = getattr(self, name)
            if not ok(value):
                raise ConfigError(f"train.{name}: got {value!r}; allowed: {allowed}")
        if self.nesterov and self.momentum == 0:
            raise ConfigError("train.nesterov: got true with momentum 0; allowed: nesterov = false or momentum > 0")

    @property
    def num_epochs(self) -> int:
        """Whole epochs actually trained: ``ceil(epochs)``."""
        return math.ceil(self.epochs)

    @classmethod
    def from_dict(cls, d: Mapping) -> TrainConfig:
        """Build from a mapping (a TOML ``[train]`` table); unknown keys or bad values raise :class:`ConfigError`."""
        names = [f.name for f in fields(cls)]
        if not isinstance(d, Mapping):
            raise ConfigError(f"train: got {d!r}; allowed: a table with keys {', '.join(names)}")
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise ConfigError(f"train: unknown key {unknown[0]!r}; allowed: {', '.join(names)}")
        values = dict(d)
        if "augment" in values and not isinstance(values["augment"], AugmentConfig):
            values["augment"] = AugmentConfig.from_dict(values["augment"])
        return cls(**values)
