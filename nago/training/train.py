"""Budgeted training and evaluation of one network: ``(model, data, TrainConfig, seed) -> metrics``.

The protocol follows DARTS / Yang et al. (what NAGO's final training used, research/nago.md §5):
SGD with Nesterov momentum, lr 0.025, batch 96, weight decay 3e-4 (not on BN / biases), cosine
schedule stepped per batch after an optional linear warm-up, gradient clipping at 5, optional label
smoothing, and the augmentations of :class:`~nago.training.data.augment.AugmentConfig` run on the device.

Failures are typed so a study can record them: :class:`TrainFailure` with ``kind`` ``"nan"``
(non-finite training loss), ``"oom"`` (CUDA out of memory, after freeing the cache), ``"timeout"``
(the training loop ran past ``time_limit_s``) or ``"error"`` (any other exception while training;
the original is the ``__cause__``). Bad inputs raise :class:`~nago.errors.ConfigError` /
:class:`~nago.errors.DataError` before training starts.

Reproducibility: ``torch.manual_seed(seed)``, a seeded generator for augmentation and a loader order
derived from ``(seed, epoch)`` make a CPU run bit-for-bit repeatable (given the same model init).
"""

from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from nago.training.data.augment import DeviceAugment
from nago.training.data.base import ArraySplit, DatasetSplits
from nago.training.data.loader import DeviceLoader
from nago.training.device import amp_dtype, resolve_device, use_channels_last
from nago.errors import DataError, EvalFailure, NagoError
from nago.training.optim import WarmupCosine, build_sgd
from nago.training.config import TrainConfig

__all__ = ["TrainConfig", "TrainFailure", "TrainResult", "train_network", "evaluate", "resolve_device"]

TRAIN_FAIL_KINDS = ("oom", "nan", "timeout", "error")

NAN_CHECK_EVERY_CUDA = 20
"""On CUDA the loss is checked for NaN/inf every this many steps (and at each epoch end): each
check is a host-device sync. On the CPU it is checked every step (free)."""


class TrainFailure(EvalFailure):
    """Training of one network failed in a way a study records as a failed trial.

    Args:
        kind: one of :data:`TRAIN_FAIL_KINDS` (``"oom"``, ``"nan"``, ``"timeout"``, ``"error"``), a
            subset of :data:`nago.errors.FAIL_KINDS`.
        message: what happened (``str(failure)`` is this message).
    """

    def __init__(self, kind: str, message: str) -> None:
        if kind not in TRAIN_FAIL_KINDS:
            raise ValueError(f"TrainFailure kind {kind!r}; allowed: {', '.join(TRAIN_FAIL_KINDS)}")
        super().__init__(kind, message)

    def __reduce__(self):  # picklable across process executors
        return (type(self), (self.kind, self.message))


@dataclass
class TrainResult:
    """What one training run produced.

    Attributes:
        metrics: ``val_acc``, ``val_loss``, ``test_acc``, ``test_loss`` (accuracy in [0, 1]; a split
            that is empty or not evaluated is absent), ``train_loss``, ``train_acc`` (last epoch,
            on augmented batches), ``epochs``, ``train_seconds`` (training-loop wall time),
            ``images_per_second`` (training images per second of that time) and, where measured,
            ``data_fraction`` (share of that time spent fetching + augmenting batches).
        history: one dict per epoch: ``epoch`` (1-based), ``train_loss``, ``train_acc``, ``lr`` (last
            step's), ``seconds``.
    """

    metrics: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)


def train_network(
    model: nn.Module,
    data: DatasetSplits,
    *,
    config: TrainConfig,
    seed: int,
    device: str | torch.device = "cpu",
    evaluate_test: bool = True,
) -> TrainResult:
    """Train ``model`` on ``data.train`` for ``ceil(config.epochs)`` epochs, then evaluate val (and test).

    Args:
        model: maps float ``[B, C, H, W]`` to logits ``[B, num_classes]``; moved to ``device`` in place.
        data: the dataset; its ``mean`` / ``std`` normalise the images.
        config: the training protocol.
        seed: seeds torch, the augmentation generator and the loader order.
        device: ``"cpu"``, ``"cuda[:i]"``, ``"auto"`` or a ``torch.device``.
        evaluate_test: also evaluate ``data.test`` (a search evaluates only val).

    Raises:
        TrainFailure: ``nan``, ``oom``, ``timeout`` or ``error``, see the module docstring.
        ConfigError, DataError: bad device, config or data (before training starts).
    """
    dev = resolve_device(device)
    _check_data(data)
    amp = amp_dtype(config.amp, dev.type)
    fmt = torch.channels_last if use_channels_last(config.channels_last, dev.type) else torch.contiguous_format
    augment = DeviceAugment(config=config.augment, mean=data.mean, std=data.std, memory_format=fmt)
    failure, cause = None, None
    try:
        model.to(device=dev, memory_format=fmt)
        loop = _Loop(model, data.train, augment, config=config, seed=seed, device=dev, amp=amp)
        metrics, history = loop.run()
        del loop  # optimiser state and preloaded training images
        splits = [("val", data.val)] + ([("test", data.test)] if evaluate_test else [])
        for name, split in splits:
            if len(split):
                acc, loss = evaluate(
                    model, split, augment=augment, device=dev, batch_size=config.eval_batch_size, amp_dtype=amp
                )
                metrics[f"{name}_acc"], metrics[f"{name}_loss"] = acc, loss
    except NagoError:
        raise
    except torch.cuda.OutOfMemoryError as exc:
        failure, cause = TrainFailure("oom", str(exc)), exc.with_traceback(None)  # drop frames holding tensors
    except Exception as exc:
        failure, cause = TrainFailure("error", f"{type(exc).__name__}: {exc}"), exc
    if failure is not None:
        model.zero_grad(set_to_none=True)
        gc.collect()
        if dev.type == "cuda":
            torch.cuda.empty_cache()
        raise failure from cause
    return TrainResult(metrics=metrics, history=history)


class _Loop:
    """One training run's state: loader, optimiser, schedule, scaler and timers.

    Timing: ``train_seconds`` is the wall time of the epochs (each ends in a sync). ``data_seconds``
    (fetch + augmentation) is timed where that is honest: always on the CPU, and on CUDA only with
    ``config.profile_data`` (a sync before and after the data section of every step).
    """

    def __init__(
        self,
        model: nn.Module,
        split: ArraySplit,
        augment: DeviceAugment,
        *,
        config: TrainConfig,
        seed: int,
        device: torch.device,
        amp: torch.dtype | None,
    ) -> None:
        torch.manual_seed(seed)
        self.model, self.augment, self.config, self.device, self.amp = model, augment, config, device, amp
        self.generator = torch.Generator(device=device).manual_seed(seed)
        drop_last = len(split) > config.batch_size  # no trailing tiny batch (BatchNorm needs > 1 sample)
        self.loader = DeviceLoader(
            split, batch_size=config.batch_size, shuffle=True, device=device, seed=seed, drop_last=drop_last
        )
        steps = len(self.loader)
        self.schedule = WarmupCosine(
            base_lr=config.lr, total_steps=config.num_epochs * steps, warmup_steps=round(config.warmup_epochs * steps)
        )
        self.optimizer = build_sgd(
            model, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov, weight_decay=config.weight_decay
        )
        self.params = [p for group in self.optimizer.param_groups for p in group["params"]]
        self.criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        self.scaler = torch.amp.GradScaler(device.type) if amp == torch.float16 else None
        self.on_cuda = device.type == "cuda"
        self.timed = not self.on_cuda or config.profile_data
        self.check_every = NAN_CHECK_EVERY_CUDA if self.on_cuda else 1
        self.step = self.images = 0
        self.data_seconds = 0.0
        self.start = 0.0

    def run(self) -> tuple[dict[str, float], list[dict[str, float]]]:
        """Train all epochs; return the training metrics and the per-epoch history."""
        epochs = self.config.num_epochs
        history: list[dict[str, float]] = []
        self.start = time.perf_counter()
        self.model.train()
        with tqdm(total=epochs, desc="train", unit="epoch", disable=not self.config.progress, leave=False) as bar:
            for epoch in range(epochs):
                before = self.images
                history.append(self._epoch(epoch))
                rate = (self.images - before) / history[-1]["seconds"]
                bar.set_postfix(loss=f"{history[-1]['train_loss']:.3f}", img_s=f"{rate:.0f}")
                bar.update(1)
        train_seconds = sum(h["seconds"] for h in history)
        metrics = {
            "train_loss": history[-1]["train_loss"],
            "train_acc": history[-1]["train_acc"],
            "epochs": float(epochs),
            "train_seconds": train_seconds,
            "images_per_second": self.images / train_seconds,
        }
        if self.timed:
            metrics["data_fraction"] = self.data_seconds / train_seconds
        return metrics, history

    def _epoch(self, epoch: int) -> dict[str, float]:
        self.loader.set_epoch(epoch)
        epoch_start = t_data = time.perf_counter()
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), dtype=torch.long, device=self.device)
        seen = 0
        batches = iter(self.loader)
        try:
            for i, (x_u8, y) in enumerate(batches):
                x = self.augment(x_u8, train=True, generator=self.generator)
                if self.timed:
                    self.data_seconds += self._now() - t_data
                lr = self.schedule.apply(self.optimizer, self.step)
                loss, logits = self._update(x, y)
                loss_sum += loss.detach().float() * y.shape[0]
                correct += (logits.detach().argmax(1) == y).sum()
                seen += y.shape[0]
                self.step += 1
                where = f"epoch {epoch + 1} step {i + 1}"
                if (i + 1) % self.check_every == 0 and not torch.isfinite(loss_sum):
                    raise TrainFailure("nan", f"non-finite training loss by {where} (lr {lr:.3g})")
                limit = self.config.time_limit_s
                if limit is not None and time.perf_counter() - self.start > limit:
                    raise TrainFailure("timeout", f"training exceeded time_limit_s={limit:g} at {where}")
                if self.timed:
                    t_data = self._now()
        finally:
            batches.close()
        epoch_loss = loss_sum.item() / seen  # syncs
        self.images += seen
        if not math.isfinite(epoch_loss):
            raise TrainFailure("nan", f"non-finite training loss in epoch {epoch + 1} (lr {lr:.3g})")
        return {
            "epoch": float(epoch + 1),
            "train_loss": epoch_loss,
            "train_acc": correct.item() / seen,
            "lr": lr,
            "seconds": time.perf_counter() - epoch_start,
        }

    def _update(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimisation step (autocast, optional GradScaler, clipping); returns (loss, logits)."""
        with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None):
            logits = self.model(x)
            loss = self.criterion(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        scaler = self.scaler
        (scaler.scale(loss) if scaler is not None else loss).backward()
        if self.config.grad_clip:
            if scaler is not None:
                scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.params, self.config.grad_clip)
        if scaler is not None:
            scaler.step(self.optimizer)
            scaler.update()
        else:
            self.optimizer.step()
        return loss, logits

    def _now(self) -> float:
        """Wall time after the device has caught up (a sync on CUDA; only called when timing)."""
        if self.on_cuda:
            torch.cuda.synchronize(self.device)
        return time.perf_counter()


def evaluate(
    model: nn.Module,
    split: ArraySplit,
    *,
    augment: DeviceAugment,
    device: str | torch.device,
    batch_size: int,
    amp_dtype: torch.dtype | None = None,
) -> tuple[float, float]:
    """Accuracy in ``[0, 1]`` and mean cross-entropy of ``model`` on ``split`` (eval mode, no augmentation).

    The model's train/eval mode is restored afterwards. ``amp_dtype`` enables autocast on CUDA.
    """
    if len(split) == 0:
        raise DataError("evaluate: the split is empty; allowed: a split with at least one image")
    dev = torch.device(device)
    loader = DeviceLoader(split, batch_size=batch_size, shuffle=False, device=dev)
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=dev)
    loss_sum = torch.zeros((), device=dev)
    try:
        with torch.inference_mode():
            for x_u8, y in loader:
                x = augment(x_u8, train=False)
                with torch.autocast(dev.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                    logits = model(x)
                loss_sum += F.cross_entropy(logits.float(), y, reduction="sum")
                correct += (logits.argmax(1) == y).sum()
    finally:
        model.train(was_training)
    return correct.item() / len(split), loss_sum.item() / len(split)


def _check_data(data: DatasetSplits) -> None:
    """Shape / label checks that would otherwise surface as obscure errors mid-training."""
    if len(data.train) == 0:
        raise DataError(f"dataset {data.name!r}: the train split is empty; allowed: at least one image")
    if len(data.mean) != data.in_channels or len(data.std) != data.in_channels:
        raise DataError(
            f"dataset {data.name!r}: mean {tuple(data.mean)} / std {tuple(data.std)}; "
            f"allowed: {data.in_channels} values each (in_channels)"
        )
    for name in ("train", "val", "test"):
        split: ArraySplit = getattr(data, name)
        if len(split) == 0:
            continue
        shape = tuple(split.images.shape[1:])
        if shape != (data.image_size, data.image_size, data.in_channels):
            raise DataError(
                f"dataset {data.name!r}: {name} images have shape {shape}; allowed: "
                f"{(data.image_size, data.image_size, data.in_channels)} (image_size, image_size, in_channels)"
            )
        low, high = int(split.labels.min()), int(split.labels.max())
        if low < 0 or high >= data.num_classes:
            raise DataError(
                f"dataset {data.name!r}: {name} labels span [{low}, {high}]; allowed: [0, {data.num_classes - 1}]"
            )
