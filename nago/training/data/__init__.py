"""Datasets: a registry of loaders that turn published on-disk formats into uint8 arrays.

``load_dataset(name, root=...)`` returns :class:`DatasetSplits` (train / val / test); ``DATASETS``
lists the names. Importing this package registers every loader.
"""

from __future__ import annotations

from nago.training.data import cifar, digits, flowers, folder, idx, imagenet  # noqa: F401  (registers the loaders)
from nago.training.data.base import ArraySplit, DatasetSplits
from nago.training.data.registry import DATASETS, LoadOptions, load_dataset

__all__ = ["DATASETS", "ArraySplit", "DatasetSplits", "LoadOptions", "load_dataset"]
