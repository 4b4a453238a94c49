"""Batch augmentation on the training device: uint8 ``[B, H, W, C]`` in, normalised float ``[B, C, H, W]`` out.

Everything is a whole-batch tensor op (no per-sample Python loop), so it runs where the batch
already is (the GPU during training) and the host only ever moves uint8 pixels. All randomness
for one call comes from a single ``torch.rand`` draw on the given generator, so a call is
deterministic given the generator state.

Conventions (documented choices):

* Crop padding and cutout use pixel value **0 (black) before normalisation**, as torchvision's
  ``RandomCrop(padding=p)`` does on uint8 images. The cut / padded pixels therefore equal
  ``(0 - mean) / std`` after normalisation, not 0. (DARTS-style cutout multiplies the *normalised*
  tensor by a 0/1 mask, i.e. fills with the mean colour; the difference is a constant offset.)
* Cutout (DeVries & Taylor 2017): the square's centre is uniform over the image and the square is
  clipped at the border, so a cut near an edge is smaller than ``cutout x cutout``.
* Random-resized-crop draws an area fraction in ``[0.35, 1]`` and an aspect ratio in
  ``[3/4, 4/3]`` (log-uniform) and clamps the box to the image instead of torchvision's
  ten rejection-sampling attempts; it resamples to the input size with bilinear ``grid_sample``
  (no antialiasing; the down-scaling factor is at most ``1/sqrt(0.35) ~ 1.7``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F

from nago.errors import ConfigError, DataError

RRC_SCALE = (0.35, 1.0)
RRC_LOG_RATIO = (math.log(3 / 4), math.log(4 / 3))

# Columns of the per-sample uniform draw: flip, crop dy, crop dx, rrc area, rrc ratio,
# rrc centre x, rrc centre y, cutout centre y, cutout centre x.
_FLIP, _DY, _DX, _AREA, _RATIO, _CX, _CY, _CUT_Y, _CUT_X = range(9)
_NUM_DRAWS = 9


@dataclass(frozen=True)
class AugmentConfig:
    """Which training-time augmentations to apply (all off by default).

    Attributes:
        crop_padding: random crop after zero padding by this many pixels per side (CIFAR: 4); 0 = off.
        random_resized_crop: random crop of 35-100% of the area, aspect 3/4..4/3, resized back to
            the input size (large-image datasets). Exclusive with ``crop_padding``.
        hflip: random horizontal flip with probability 1/2.
        cutout: side of the square cutout in pixels (CIFAR 16, 224-px sets 112); 0 = off.
    """

    crop_padding: int = 0
    random_resized_crop: bool = False
    hflip: bool = False
    cutout: int = 0

    def __post_init__(self) -> None:
        for name in ("crop_padding", "cutout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"augment.{name}: got {value!r}; allowed: an integer >= 0 (pixels, 0 = off)")
        for name in ("random_resized_crop", "hflip"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ConfigError(f"augment.{name}: got {value!r}; allowed: true or false")
        if self.crop_padding and self.random_resized_crop:
            raise ConfigError(
                f"augment: crop_padding={self.crop_padding} and random_resized_crop=true are alternatives; "
                "allowed: at most one of them"
            )

    @classmethod
    def from_dict(cls, d: Mapping) -> AugmentConfig:
        """Build from a mapping (a TOML ``[train.augment]`` table); unknown keys raise :class:`ConfigError`."""
        if not isinstance(d, Mapping):
            raise ConfigError(f"augment: got {d!r}; allowed: a table with keys {', '.join(_field_names(cls))}")
        unknown = sorted(set(d) - set(_field_names(cls)))
        if unknown:
            raise ConfigError(f"augment: unknown key {unknown[0]!r}; allowed: {', '.join(_field_names(cls))}")
        return cls(**d)


def _field_names(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


class DeviceAugment:
    """Convert, augment and normalise a uint8 image batch on its own device.

    Args:
        config: which augmentations to apply when ``train=True``.
        mean, std: per-channel normalisation constants in ``[0, 1]`` pixel units (length C).
        memory_format: memory format of the output (``torch.channels_last`` for channels-last models).
    """

    def __init__(
        self,
        *,
        config: AugmentConfig,
        mean: Sequence[float],
        std: Sequence[float],
        memory_format: torch.memory_format = torch.contiguous_format,
    ) -> None:
        if len(mean) == 0 or len(mean) != len(std):
            raise ConfigError(f"normalisation: mean {tuple(mean)} and std {tuple(std)} need the same length >= 1")
        if any(not s > 0 for s in std):
            raise ConfigError(f"normalisation: std {tuple(std)}; allowed: every value > 0")
        self.config = config
        self.memory_format = memory_format
        std_t = torch.tensor(std, dtype=torch.float32)
        mean_t = torch.tensor(mean, dtype=torch.float32)
        # x_norm = (x / 255 - mean) / std = x * scale + shift, with x in [0, 255].
        self._scale = (1.0 / (255.0 * std_t)).view(1, -1, 1, 1)
        self._shift = (-mean_t / std_t).view(1, -1, 1, 1)
        self._on_device: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def channels(self) -> int:
        return int(self._scale.shape[1])

    def __call__(self, x: torch.Tensor, *, train: bool, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment (if ``train``) and normalise a batch.

        Args:
            x: uint8 ``[B, H, W, C]`` on any device.
            train: apply the configured augmentations; ``False`` only converts and normalises.
            generator: source of randomness (on ``x.device`` for speed, or on the CPU); ``None``
                uses the global generator of the device it is drawn on.

        Returns:
            float32 ``[B, C, H, W]`` on ``x.device``, normalised with ``mean`` / ``std``.
        """
        if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[-1] != self.channels:
            raise DataError(
                f"DeviceAugment expects a uint8 batch [B, H, W, {self.channels}], got {x.dtype} {tuple(x.shape)}"
            )
        cfg = self.config
        if train and (cfg.crop_padding or cfg.random_resized_crop or cfg.hflip or cfg.cutout):
            out = self._augment(x, generator)
        else:
            out = self._to_float(x)
        scale, shift = self._constants(x.device)
        out.mul_(scale).add_(shift)
        return out.contiguous(memory_format=self.memory_format)

    def _augment(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        cfg = self.config
        b, h, w, _ = x.shape
        draw_device = generator.device if generator is not None else x.device
        u = torch.rand(b, _NUM_DRAWS, generator=generator, device=draw_device).to(x.device, non_blocking=True)
        flip = u[:, _FLIP] < 0.5 if cfg.hflip else None
        if cfg.random_resized_crop:
            out = _resized_crop(x.permute(0, 3, 1, 2).float(), u, flip)
        else:
            if cfg.crop_padding or flip is not None:
                x = _crop_flip(x, u, flip, cfg.crop_padding)
            out = self._to_float(x)
        if cfg.cutout:
            out.masked_fill_(_cutout_mask(u, h, w, cfg.cutout).unsqueeze(1), 0.0)
        return out

    def _to_float(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 ``[B, H, W, C]`` -> float32 ``[B, C, H, W]`` in the output memory format, in one copy."""
        return x.permute(0, 3, 1, 2).to(dtype=torch.float32, memory_format=self.memory_format)

    def _constants(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if device not in self._on_device:
            self._on_device[device] = (self._scale.to(device), self._shift.to(device))
        return self._on_device[device]


def _crop_flip(x: torch.Tensor, u: torch.Tensor, flip: torch.Tensor | None, pad: int) -> torch.Tensor:
    """Random crop of a zero-padded uint8 ``[B, H, W, C]`` batch, then optional flip, by two gathers."""
    b, h, w, c = x.shape
    ar_h = torch.arange(h, device=x.device)
    ar_w = torch.arange(w, device=x.device)
    cols = ar_w.expand(b, w)
    if flip is not None:
        cols = torch.where(flip[:, None], (w - 1) - ar_w, ar_w)
    if pad:
        x = F.pad(x, (0, 0, pad, pad, pad, pad))  # [B, H + 2p, W + 2p, C], zeros
        dy = (u[:, _DY] * (2 * pad + 1)).long().clamp_(max=2 * pad)
        dx = (u[:, _DX] * (2 * pad + 1)).long().clamp_(max=2 * pad)
        rows = dy[:, None] + ar_h  # [B, H]
        x = x.gather(1, rows[:, :, None, None].expand(b, h, x.shape[2], c))
        cols = dx[:, None] + cols  # [B, W]
    return x.gather(2, cols[:, None, :, None].expand(b, h, w, c))


def _resized_crop(x: torch.Tensor, u: torch.Tensor, flip: torch.Tensor | None) -> torch.Tensor:
    """Random-resized-crop of a float ``[B, C, H, W]`` batch back to ``H x W`` with per-sample affine grids."""
    area = RRC_SCALE[0] + (RRC_SCALE[1] - RRC_SCALE[0]) * u[:, _AREA]
    ratio = torch.exp(RRC_LOG_RATIO[0] + (RRC_LOG_RATIO[1] - RRC_LOG_RATIO[0]) * u[:, _RATIO])
    sx = torch.sqrt(area * ratio).clamp(max=1.0)  # box width / image width
    sy = torch.sqrt(area / ratio).clamp(max=1.0)
    cx = (2 * u[:, _CX] - 1) * (1 - sx)  # box centre in normalised [-1, 1] coordinates
    cy = (2 * u[:, _CY] - 1) * (1 - sy)
    sign = torch.where(flip, -1.0, 1.0) if flip is not None else torch.ones_like(sx)
    zero = torch.zeros_like(sx)
    theta = torch.stack([torch.stack([sx * sign, zero, cx], 1), torch.stack([zero, sy, cy], 1)], 1)  # [B, 2, 3]
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _cutout_mask(u: torch.Tensor, h: int, w: int, side: int) -> torch.Tensor:
    """Bool ``[B, H, W]``: True inside each sample's (border-clipped) ``side x side`` square."""
    y0 = (u[:, _CUT_Y] * h).long().clamp_(max=h - 1) - side // 2
    x0 = (u[:, _CUT_X] * w).long().clamp_(max=w - 1) - side // 2
    ar_h = torch.arange(h, device=u.device)
    ar_w = torch.arange(w, device=u.device)
    rows = (ar_h >= y0[:, None]) & (ar_h < y0[:, None] + side)  # [B, H]
    cols = (ar_w >= x0[:, None]) & (ar_w < x0[:, None] + side)  # [B, W]
    return rows[:, :, None] & cols[:, None, :]
