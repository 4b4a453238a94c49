"""Where a network trains and in which precision: device resolution, AMP dtype, memory format.

The decision functions are pure (the hardware facts are arguments with a probing default), so
their CUDA branches are unit-tested on machines without a GPU.
"""

from __future__ import annotations

import torch

from nago.errors import ConfigError

AMP_MODES = ("auto", "bf16", "fp16", "off")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` / ``"auto"`` -> ``cuda`` if available else ``cpu``; anything else must exist here.

    Raises:
        ConfigError: an unparsable string, or a device this machine does not have (``"cuda"``
            without CUDA, ``"cuda:3"`` with two GPUs, ``"mps"`` off Apple silicon).
    """
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    allowed = "auto, cpu, cuda, cuda:<index>, mps"
    try:
        dev = torch.device(device.strip() if isinstance(device, str) else device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"device: got {device!r}; allowed: {allowed}") from None
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = "built without CUDA" if torch.version.cuda is None else "no GPU visible"
            raise ConfigError(
                f"device: got {device!r} but CUDA is not available (torch {torch.__version__}, {build}); "
                "allowed here: auto, cpu"
            )
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise ConfigError(
                f"device: got {device!r} but only {count} CUDA device(s) exist; allowed: cuda:0..cuda:{count - 1}"
            )
        return dev
    if dev.type == "mps" and torch.backends.mps.is_available():
        return dev
    raise ConfigError(f"device: got {device!r}, which is not available here; allowed: {allowed}")


def amp_dtype(mode: str, device_type: str, *, bf16_supported: bool | None = None) -> torch.dtype | None:
    """Autocast dtype for the AMP ``mode`` on ``device_type``; ``None`` = full fp32.

    AMP is CUDA-only: on any other device every mode resolves to ``None`` (so a GPU run config
    also runs on a laptop). ``"auto"`` picks bf16 where the GPU supports it, else fp16 (which the
    training loop pairs with a GradScaler).

    Args:
        mode: one of :data:`AMP_MODES`.
        device_type: ``torch.device.type`` (``"cuda"``, ``"cpu"``, ...).
        bf16_supported: whether the GPU has bf16; ``None`` asks ``torch.cuda.is_bf16_supported()``.

    Raises:
        ConfigError: an unknown mode, or ``"bf16"`` on a GPU without bf16.
    """
    if mode not in AMP_MODES:
        raise ConfigError(f"train.amp: got {mode!r}; allowed: {', '.join(AMP_MODES)}")
    if device_type != "cuda" or mode == "off":
        return None
    if mode == "fp16":
        return torch.float16
    if bf16_supported is None:
        bf16_supported = torch.cuda.is_bf16_supported()
    if mode == "bf16" and not bf16_supported:
        raise ConfigError("train.amp: got 'bf16' but this GPU has no bf16 support; allowed: auto, fp16, off")
    return torch.bfloat16 if bf16_supported else torch.float16


def use_channels_last(setting: bool | None, device_type: str) -> bool:
    """The channels-last decision: an explicit ``setting`` wins; ``None`` means on CUDA only."""
    return device_type == "cuda" if setting is None else setting
