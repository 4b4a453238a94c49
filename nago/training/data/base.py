"""Dataset containers shared by every loader: uint8 image arrays plus labels, split three ways."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class ArraySplit:
    """One split of a dataset.

    Attributes:
        images: uint8 array ``[N, H, W, C]`` (may be a read-only ``np.memmap``).
        labels: int64 array ``[N]`` with values in ``[0, num_classes)``.
    """

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass
class DatasetSplits:
    """Train / validation / test splits of one dataset, all at the same resolution.

    Attributes:
        name: registry name (``"cifar10"``).
        train, val, test: the splits; ``val`` is held out from the training data with a seeded split.
        num_classes: number of classes.
        image_size: side length in pixels (images are square).
        in_channels: 1 or 3.
        mean, std: per-channel normalisation constants in ``[0, 1]`` pixel units.
        info: what the run should record (split sizes, split seed, source paths, cache files).
    """

    name: str
    train: ArraySplit
    val: ArraySplit
    test: ArraySplit
    num_classes: int
    image_size: int
    in_channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    info: dict[str, Any] = field(default_factory=dict)
