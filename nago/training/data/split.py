"""Seeded, stratified splits of a label vector (held-out validation/test sets, training subsets).

Every function returns sorted ``int64`` index arrays into the label vector, so a split is recorded
and reproduced as "these positions of the official list". Class proportions are kept by the
largest-remainder method: each class gives ``count * share`` items, rounded so the total is exact.
Randomness comes from ``np.random.default_rng([seed, stream])``; each use has its own stream so
the validation split, the training subset and a generated test split are independent of each other.
"""

from __future__ import annotations

import numpy as np

from nago.errors import ConfigError

#: Independent random streams per use, mixed with the user's seed.
VAL_STREAM, SUBSET_STREAM, TEST_STREAM = 1, 2, 3
#: Share and seed of every test split nago has to generate (digits, sport8, a single ``folder``
#: tree, MIT67 without its split files). The seed is fixed so test sets never depend on a run's seed.
GENERATED_TEST_FRACTION, GENERATED_TEST_SEED = 0.2, 0


def check_fraction(name: str, value: float) -> float:
    """Return ``value`` as a float if ``0 < value < 1``; else raise :class:`ConfigError` naming ``name``."""
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={value!r} is not a number; allowed: 0 < {name} < 1") from None
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"{name}={value!r} is out of range; allowed: 0 < {name} < 1")
    return fraction


def _allocate(counts: np.ndarray, total: int, cap: np.ndarray) -> np.ndarray:
    """Split ``total`` items over classes in proportion to ``counts`` (largest remainder), at most ``cap`` each."""
    quota = counts * (total / max(int(counts.sum()), 1))
    take = np.minimum(np.floor(quota).astype(np.int64), cap)
    short = total - int(take.sum())
    if short > 0:
        remainder = np.where(take < cap, quota - take, -1.0)
        order = np.argsort(-remainder, kind="stable")  # ties broken by class order
        for c in order[:short]:
            if remainder[c] >= 0:
                take[c] += 1
    return take


def _pick(labels: np.ndarray, total: int, rng: np.random.Generator, keep_one: bool) -> np.ndarray:
    """Indices of ``total`` items drawn class by class in proportion to the class sizes."""
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    cap = np.maximum(counts - 1, 0) if keep_one else counts
    take = _allocate(counts, total, cap)
    by_class = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    chosen = [rng.permutation(by_class[s : s + n])[:k] for s, n, k in zip(starts, counts, take, strict=True)]
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int, *, stream: int = VAL_STREAM
) -> tuple[np.ndarray, np.ndarray]:
    """Hold out ``round(fraction * N)`` items, stratified by class.

    A class never gives up its last item, so every class stays in the kept part.

    Args:
        labels: int array ``[N]``.
        fraction: share held out, ``0 < fraction < 1``.
        seed: split seed.
        stream: random stream (``VAL_STREAM`` for validation, ``TEST_STREAM`` for a generated test split).

    Returns:
        ``(kept, held)``: disjoint sorted int64 index arrays covering ``range(N)``.
    """
    labels = np.asarray(labels)
    fraction = check_fraction("fraction", fraction)
    held = _pick(labels, int(round(fraction * len(labels))), np.random.default_rng([seed, stream]), True)
    mask = np.ones(len(labels), dtype=bool)
    mask[held] = False
    return np.flatnonzero(mask).astype(np.int64), held.astype(np.int64)


def stratified_subset(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted int64 indices of a class-stratified random subset of ``min(size, N)`` items."""
    labels = np.asarray(labels)
    if size >= len(labels):
        return np.arange(len(labels), dtype=np.int64)
    rng = np.random.default_rng([seed, SUBSET_STREAM])
    return _pick(labels, int(size), rng, False).astype(np.int64)


def generated_test_split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` indices of a dataset without an official test split (20%, seed 0, stratified)."""
    return stratified_split(labels, GENERATED_TEST_FRACTION, GENERATED_TEST_SEED, stream=TEST_STREAM)


def generated_test_note(population: str) -> str:
    """How :func:`generated_test_split` made a test split, for ``info["splits"]["test"]``."""
    return f"generated: stratified {GENERATED_TEST_FRACTION:g} of {population}, seed {GENERATED_TEST_SEED} (fixed)"


def check_max_train(value: int | None) -> int | None:
    """Validate ``max_train`` (``None`` or a positive int); raise :class:`ConfigError` otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"max_train={value!r} is invalid; allowed: None or an integer >= 1")
    return int(value)
