"""A tiny separable image set for trainer tests: four classes told apart by their mean colour."""

from __future__ import annotations

import numpy as np

from nago.training.data.base import ArraySplit, DatasetSplits

COLORS = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200], [200, 200, 40]])


def color_split(n: int, rng: np.random.Generator, size: int) -> ArraySplit:
    """``n`` noisy ``[size, size, 3]`` uint8 images of the four colours and their labels."""
    labels = rng.integers(0, len(COLORS), n)
    images = COLORS[labels][:, None, None, :] + rng.normal(0, 30, (n, size, size, 3))
    return ArraySplit(np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.int64))


def color_data(n_train: int, n_eval: int, size: int, seed: int = 0) -> DatasetSplits:
    """Train / val / test splits; linearly separable after global pooling."""
    rng = np.random.default_rng(seed)
    splits = [color_split(k, rng, size) for k in (n_train, n_eval, n_eval)]
    return DatasetSplits("colors", *splits, 4, size, 3, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
