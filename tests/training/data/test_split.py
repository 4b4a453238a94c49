from __future__ import annotations

import numpy as np
import pytest

from nago.training.data.split import (
    check_fraction,
    check_max_train,
    generated_test_split,
    stratified_split,
    stratified_subset,
)
from nago.errors import ConfigError


def _labels() -> np.ndarray:
    # unbalanced classes: 50, 30, 20, 7 items, shuffled
    labels = np.repeat(np.arange(4), [50, 30, 20, 7])
    return np.random.default_rng(5).permutation(labels)


def test_split_is_disjoint_complete_and_stratified() -> None:
    labels = _labels()
    kept, held = stratified_split(labels, 0.2, seed=3)
    assert len(held) == round(0.2 * len(labels))
    assert np.intersect1d(kept, held).size == 0
    assert np.array_equal(np.sort(np.concatenate([kept, held])), np.arange(len(labels)))
    assert kept.dtype == held.dtype == np.int64
    held_counts = np.bincount(labels[held], minlength=4)
    expected = np.array([50, 30, 20, 7]) * 0.2
    assert np.all(np.abs(held_counts - expected) <= 1), held_counts


def test_split_is_seeded() -> None:
    labels = _labels()
    a = stratified_split(labels, 0.3, seed=1)[1]
    b = stratified_split(labels, 0.3, seed=1)[1]
    c = stratified_split(labels, 0.3, seed=2)[1]
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_split_never_takes_the_last_item_of_a_class() -> None:
    labels = np.array([0, 0, 0, 0, 1, 2, 2])
    kept, held = stratified_split(labels, 0.9, seed=0)
    assert set(labels[kept]) == {0, 1, 2}
    assert 1 not in labels[held]


def test_subset_size_and_proportions() -> None:
    labels = _labels()
    idx = stratified_subset(labels, 40, seed=0)
    assert len(idx) == 40 and len(np.unique(idx)) == 40
    counts = np.bincount(labels[idx], minlength=4)
    assert np.all(np.abs(counts - np.array([50, 30, 20, 7]) * 40 / 107) <= 1), counts
    assert np.array_equal(stratified_subset(labels, 500, seed=0), np.arange(len(labels)))


def test_generated_test_split_ignores_run_seed() -> None:
    labels = _labels()
    a, b = generated_test_split(labels), generated_test_split(labels)
    assert np.array_equal(a[1], b[1])
    # independent of the validation stream for the same seed
    assert not np.array_equal(a[1], stratified_split(labels, 0.2, seed=0)[1])


@pytest.mark.parametrize("bad", [0, 1, -0.1, 1.5, "x", None])
def test_bad_fraction(bad: object) -> None:
    with pytest.raises(ConfigError, match="0 < val_fraction < 1"):
        check_fraction("val_fraction", bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_bad_max_train(bad: object) -> None:
    with pytest.raises(ConfigError, match="max_train"):
        check_max_train(bad)  # type: ignore[arg-type]
    assert check_max_train(None) is None and check_max_train(7) == 7
