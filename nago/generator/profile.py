"""Cost of a network: parameters, FLOPs, training memory per sample, inference latency.

* ``params``: number of trainable parameters (a count, not millions).
* ``flops``: multiply-accumulates (MACs) of every ``Conv2d`` and ``Linear`` for one image at the
  given size, counted with forward hooks (pooling, BN, activations and merges are not counted).
* ``memory_mb``: training memory per sample in MiB (2**20 bytes): the bytes of the tensors autograd
  saves for backward during one training-mode forward pass, measured with
  :func:`torch.autograd.graph.saved_tensors_hooks`, counting each storage once and leaving out
  parameters (they are not per-sample). Two images are passed and the total halved, so
  batch-independent buffers (BN statistics) barely count. Deterministic and measurable on a CPU;
  this is the activation memory that dominates a GPU's training footprint, the quantity NAGO's
  second objective ("memory per sample") stands for (``research/nago.md`` §4.3).
* ``latency_ms``: median wall time of an eval-mode forward pass of one image (batch 1), after
  warm-up, on the model's device.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn

MIB = 2**20


@dataclass(frozen=True)
class Profile:
    params: int
    flops: int
    memory_mb: float
    latency_ms: float | None = None

    def as_dict(self) -> dict[str, float]:
        d = {"params": float(self.params), "flops": float(self.flops), "memory_mb": self.memory_mb}
        if self.latency_ms is not None:
            d["latency_ms"] = self.latency_ms
        return d


def _device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_flops(model: nn.Module, input_shape: tuple[int, int, int]) -> int:
    """MACs of convs and linears for one input of shape ``(C, H, W)``."""
    total = 0

    def conv_hook(m: nn.Conv2d, inp, out):
        nonlocal total
        kh, kw = m.kernel_size
        total += out.numel() // out.shape[0] * (m.in_channels // m.groups) * kh * kw

    def linear_hook(m: nn.Linear, inp, out):
        nonlocal total
        total += out.numel() // out.shape[0] * m.in_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device=_device(model)))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return int(total)


def training_memory_bytes(model: nn.Module, input_shape: tuple[int, int, int], *, batch: int = 2) -> float:
    """Bytes saved for backward per sample (see the module docstring)."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: set[tuple[int, int]] = set()
    total = 0

    def pack(t: torch.Tensor):
        nonlocal total
        st = t.untyped_storage()
        key = (st.data_ptr(), st.nbytes())
        if key[0] not in params and key not in seen:
            seen.add(key)
            total += st.nbytes()
        return t

    was_training = model.training
    model.train()
    state = {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}
    try:
        x = torch.zeros(batch, *input_shape, device=_device(model))
        with torch.random.fork_rng(devices=[]), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = model(x)  # fork_rng: dropout must not advance the caller's RNG
        del out
    finally:
        model.load_state_dict(state, strict=False)  # BN running stats untouched by the probe
        model.train(was_training)
    return total / batch


def latency_ms(model: nn.Module, input_shape: tuple[int, int, int], *, repeats: int = 10, warmup: int = 2) -> float:
    """Median eval-mode forward time of one image in milliseconds."""
    dev = _device(model)
    x = torch.zeros(1, *input_shape, device=dev)
    was_training = model.training
    model.eval()
    times = []
    try:
        with torch.no_grad():
            for i in range(warmup + repeats):
                if dev.type == "cuda":
                    torch.cuda.synchronize(dev)
                t0 = time.perf_counter()
                model(x)
                if dev.type == "cuda":
                    torch.cuda.synchronize(dev)
                if i >= warmup:
                    times.append((time.perf_counter() - t0) * 1e3)
    finally:
        model.train(was_training)
    return statistics.median(times)


def profile(model: nn.Module, input_shape: tuple[int, int, int], *, latency: bool = False) -> Profile:
    """Profile ``model`` for inputs of shape ``(C, H, W)``."""
    return Profile(
        params=count_parameters(model),
        flops=count_flops(model, input_shape),
        memory_mb=training_memory_bytes(model, input_shape) / MIB,
        latency_ms=latency_ms(model, input_shape) if latency else None,
    )
