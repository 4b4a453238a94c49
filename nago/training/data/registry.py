"""The dataset registry and :func:`load_dataset`, the one entry point every other module uses.

A registered loader is a callable ``loader(opts: LoadOptions) -> DatasetSplits``; the loader modules
(``digits``, ``cifar``, ``flowers``, ``folder``, ``idx``, ``imagenet``) register themselves when
``nago.training.data`` is imported. Nothing is ever downloaded: on-disk datasets need ``root``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from nago.training.data.base import DatasetSplits
from nago.training.data.split import check_fraction, check_max_train
from nago.errors import ConfigError, DataError
from nago.registry import Registry

DATASETS: Registry[Callable[[LoadOptions], DatasetSplits]] = Registry("dataset")

#: Default cache folder name under the dataset root.
CACHE_DIRNAME = ".nago-cache"


@dataclass(frozen=True)
class LoadOptions:
    """Validated arguments of :func:`load_dataset`, handed to a registered loader.

    Attributes:
        name: registry name of the dataset.
        root: dataset root as given (``None`` only for datasets that need no files).
        image_size: requested side length in pixels, or ``None`` for the dataset's default.
        val_fraction: share of the official training data held out for validation, in ``(0, 1)``.
        seed: seed of the validation split and of the ``max_train`` subsample.
        cache_dir: where decoded images and split files go (``None``: ``<root>/.nago-cache``).
        max_train: cap on the number of training images (stratified subsample), or ``None``.
        progress: draw progress bars (``None``: only for big decodes; ``NAGO_NO_PROGRESS=1`` disables).
    """

    name: str
    root: Path | None
    image_size: int | None
    val_fraction: float
    seed: int
    cache_dir: Path | None
    max_train: int | None
    progress: bool | None

    def require_root(self, layout: str, source: str) -> Path:
        """The root as a resolved existing directory; else :class:`DataError` describing the layout.

        Args:
            layout: the expected files under the root, e.g. ``"<root>/cifar-10-batches-py/data_batch_1"``.
            source: where to get the data (nothing is downloaded).
        """
        hint = f"expected {layout}; get it from {source} (nago never downloads data)"
        if self.root is None:
            raise DataError(f"dataset {self.name!r} needs root=<dataset dir> (--data-root); {hint}")
        if not self.root.is_dir():
            raise DataError(f"dataset {self.name!r}: root {self.root} is not a directory; {hint}")
        return self.root.resolve()

    def size(self, default: int) -> int:
        """The requested image size, or ``default`` when none was asked for."""
        return default if self.image_size is None else self.image_size

    def cache_path(self, root: Path) -> Path:
        """The cache folder: ``cache_dir`` if given, else ``<root>/.nago-cache``."""
        return self.cache_dir if self.cache_dir is not None else root / CACHE_DIRNAME


def load_dataset(
    name: str,
    *,
    root: str | Path | None = None,
    image_size: int | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    max_train: int | None = None,
    progress: bool | None = None,
) -> DatasetSplits:
    """Load a registered dataset as uint8 train/val/test arrays.

    Args:
        name: a name in :data:`DATASETS` (``digits``, ``cifar10``, ``cifar100``, ``flowers102``,
            ``sport8``, ``mit67``, ``imagenet``, ``folder``, ``idx``, ``mnist``, ``fashion-mnist``).
        root: dataset directory (layouts in each loader's docstring); unused by ``digits``.
        image_size: output side length in pixels; ``None`` keeps the native size (digits 8,
            CIFAR 32, IDX 28) or uses 224 for the large-image sets (shorter side resized, centre crop).
        val_fraction: share of the official training split held out (stratified, seeded) as
            ``val``; ignored where the dataset publishes a validation split (flowers102, a
            ``folder`` tree with ``val/``), which ``info`` records.
        seed: seed of the validation split and of the ``max_train`` subsample. Test splits that
            nago has to generate (digits, sport8, ...) always use seed 0, so they do not move.
        cache_dir: cache of decoded images and generated split files; default ``<root>/.nago-cache``.
        max_train: keep at most this many training images (stratified, seeded subsample).
        progress: progress bars for decoding; ``None`` shows them for big decodes only.

    Returns:
        The splits; ``info`` records split sizes, seed, sources, cache files and generated splits.

    Raises:
        ConfigError: unknown ``name`` or an argument out of range.
        DataError: missing or malformed files (the message names the path and the layout).
    """
    loader = DATASETS.get(name)
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1):
        raise ConfigError(f"image_size={image_size!r} is invalid; allowed: None or an integer >= 1")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed={seed!r} is invalid; allowed: an integer >= 0")
    opts = LoadOptions(
        name=str(name).lower(),
        root=None if root is None else Path(root).expanduser(),
        image_size=image_size,
        val_fraction=check_fraction("val_fraction", val_fraction),
        seed=seed,
        cache_dir=None if cache_dir is None else Path(cache_dir).expanduser().resolve(),
        max_train=check_max_train(max_train),
        progress=progress,
    )
    return loader(opts)
