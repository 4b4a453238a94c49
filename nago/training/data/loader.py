"""Batches of uint8 images and int64 labels, delivered on the training device.

Pixels stay uint8 until :class:`~nago.training.data.augment.DeviceAugment` converts them on the device
(4x less host-to-device traffic than float32). Two modes:

* **preload** (default for splits up to :data:`PRELOAD_MAX_BYTES`): the whole split is copied to
  the device once; a batch is an ``index_select`` there. On the CPU an in-memory contiguous array
  is shared, not copied.
* **stream** (larger splits, e.g. a memmapped ImageNet cache): a background thread gathers each
  batch from the numpy array (indices sorted within the batch so memmap reads run forward) into
  pinned host memory; the main thread issues the ``non_blocking`` copy of batch ``i + 1`` on a side
  CUDA stream before handing out batch ``i``, so copies overlap compute.

The order of an epoch depends only on ``(seed, epoch)``: call :meth:`DeviceLoader.set_epoch` before
each epoch (as with ``DistributedSampler``), otherwise every epoch repeats the same order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import numpy as np
import torch

from nago.training.data.base import ArraySplit
from nago.errors import ConfigError, DataError

PRELOAD_MAX_BYTES = 2 * 1024**3
"""Splits up to this many bytes of pixels are copied to the device once (``preload=None``)."""

_END = object()


class DeviceLoader:
    """Iterate over a split in batches already on ``device``.

    Args:
        split: uint8 images ``[N, H, W, C]`` (may be a ``np.memmap``) and integer labels ``[N]``.
        batch_size: images per batch.
        shuffle: draw a fresh permutation per epoch from ``(seed, epoch)``; else the stored order.
        device: where batches are delivered.
        seed: non-negative shuffling seed.
        drop_last: drop the final incomplete batch.
        preload: ``True`` copies the split to the device once, ``False`` streams batches through
            pinned memory, ``None`` preloads iff the images take at most :data:`PRELOAD_MAX_BYTES`.
    """

    def __init__(
        self,
        split: ArraySplit,
        *,
        batch_size: int,
        shuffle: bool,
        device: str | torch.device,
        seed: int = 0,
        drop_last: bool = False,
        preload: bool | None = None,
    ) -> None:
        images, labels = split.images, np.asarray(split.labels)
        if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4:
            raise DataError(
                f"DeviceLoader: images must be a uint8 array [N, H, W, C], got "
                f"{getattr(images, 'dtype', type(images).__name__)} {getattr(images, 'shape', '')}"
            )
        if labels.ndim != 1 or labels.shape[0] != images.shape[0] or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(
                f"DeviceLoader: labels must be integers [N={images.shape[0]}], got {labels.dtype} {labels.shape}"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size: got {batch_size!r}; allowed: an integer >= 1")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"seed: got {seed!r}; allowed: an integer >= 0")
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0
        self.preload = images.nbytes <= PRELOAD_MAX_BYTES if preload is None else bool(preload)
        self._num = int(images.shape[0])
        self._pin = self.device.type == "cuda" and not self.preload
        if self.preload:
            self._images = _as_tensor(images).to(self.device)
            self._labels = torch.from_numpy(labels.astype(np.int64)).to(self.device)
        else:
            self._images_np = images
            self._labels_np = labels.astype(np.int64)

    def __len__(self) -> int:
        """Batches per epoch."""
        if self.drop_last:
            return self._num // self.batch_size
        return -(-self._num // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Select the shuffling order of epoch ``epoch`` (>= 0) for the next iteration."""
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ConfigError(f"epoch: got {epoch!r}; allowed: an integer >= 0")
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(images uint8 [B, H, W, C], labels int64 [B])``, both on :attr:`device`."""
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self._num)
        else:
            order = np.arange(self._num)
        order = order[: len(self) * self.batch_size]
        return self._preloaded(order) if self.preload else self._streamed(order)

    def _preloaded(self, order: np.ndarray) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        index = torch.from_numpy(order).to(self.device)
        for start in range(0, len(order), self.batch_size):
            idx = index[start : start + self.batch_size]
            yield self._images.index_select(0, idx), self._labels.index_select(0, idx)

    def _streamed(self, order: np.ndarray) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        slots: queue.Queue = queue.Queue(maxsize=2)
        stop = threading.Event()
        worker = threading.Thread(target=self._produce, args=(order, slots, stop), daemon=True, name="nago-loader")
        worker.start()
        stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None
        try:
            pending = self._upload(slots.get(), stream)
            while pending is not None:
                following = self._upload(slots.get(), stream)  # next copy in flight before we hand out this one
                yield self._ready(pending)
                pending = following
        finally:
            stop.set()
            while worker.is_alive():
                try:
                    slots.get(timeout=0.05)
                except queue.Empty:
                    pass
            worker.join()

    def _produce(self, order: np.ndarray, slots: queue.Queue, stop: threading.Event) -> None:
        """Background thread: gather host batches (pinned when the target is CUDA) into ``slots``."""
        try:
            if self._pin and self.device.index is not None:
                torch.cuda.set_device(self.device)  # pinned allocations must not open a context on GPU 0
            shape = self._images_np.shape[1:]
            for start in range(0, len(order), self.batch_size):
                idx = np.sort(order[start : start + self.batch_size])
                images = torch.empty((len(idx), *shape), dtype=torch.uint8, pin_memory=self._pin)
                np.take(self._images_np, idx, axis=0, out=images.numpy(), mode="clip")  # unbuffered gather
                labels = torch.from_numpy(self._labels_np[idx])
                if self._pin:
                    labels = labels.pin_memory()
                if not _put(slots, (images, labels), stop):
                    return
            _put(slots, _END, stop)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            _put(slots, exc, stop)

    def _upload(self, item: object, stream: torch.cuda.Stream | None) -> tuple | None:
        if item is _END:
            return None
        if isinstance(item, BaseException):
            raise item
        images, labels = item
        if stream is None:
            return images.to(self.device), labels.to(self.device), None
        with torch.cuda.stream(stream):
            images = images.to(self.device, non_blocking=True)
            labels = labels.to(self.device, non_blocking=True)
            done = torch.cuda.Event()
            done.record(stream)
        return images, labels, done

    def _ready(self, pending: tuple) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels, done = pending
        if done is not None:
            current = torch.cuda.current_stream(self.device)
            current.wait_event(done)
            images.record_stream(current)  # memory allocated on the side stream is used on this one
            labels.record_stream(current)
        return images, labels


def _as_tensor(images: np.ndarray) -> torch.Tensor:
    """Share a contiguous writable array with torch; copy read-only or strided ones (e.g. memmaps)."""
    if not images.flags.c_contiguous or not images.flags.writeable:
        images = np.array(images, order="C")
    return torch.from_numpy(images)


def _put(slots: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put ``item`` unless ``stop`` is set first; returns whether it was put."""
    while not stop.is_set():
        try:
            slots.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False
