"""ProductKDE: Scott bandwidths, normalisation on the unit cube, sampling from the same kernels."""

from __future__ import annotations

import numpy as np
import pytest

from nago.strategies._kde import ProductKDE


def test_bandwidths_follow_scott_with_floor_and_cap() -> None:
    rng = np.random.default_rng(0)
    data = np.column_stack([rng.random(20), np.full(20, 0.5), (rng.integers(0, 3, 20) + 0.5) / 3])
    kde = ProductKDE(data=data, levels=[None, None, 3], min_bandwidth=1e-3)
    factor = 1.06 * 20 ** (-1 / 7)
    codes = np.floor(data[:, 2] * 3)
    assert kde.bandwidth[0] == pytest.approx(factor * data[:, 0].std())
    assert kde.bandwidth[1] == 1e-3  # zero spread -> the floor
    assert kde.bandwidth[2] == pytest.approx(min(factor * codes.std(), 2 / 3))
    wide = ProductKDE(data=np.array([[0.1], [0.9]]), levels=[3])  # codes 0 and 2: Scott gives 0.92
    assert wide.bandwidth[0] == pytest.approx(2 / 3)  # capped at (c-1)/c: the uniform kernel


def test_density_integrates_to_one_on_the_cube() -> None:
    rng = np.random.default_rng(1)
    data = np.column_stack([np.r_[0.0, 0.02, rng.random(6)], (rng.integers(0, 3, 8) + 0.5) / 3])
    kde = ProductKDE(data=data, levels=[None, 3])
    x = np.linspace(0, 1, 4001)
    total = 0.0
    for level in range(3):
        pts = np.column_stack([x, np.full_like(x, (level + 0.5) / 3)])
        total += np.trapezoid(np.exp(kde.log_pdf(pts)), x)
    assert total == pytest.approx(1.0, abs=1e-3)


def test_density_is_high_near_the_data_and_floored_far_away() -> None:
    kde = ProductKDE(data=np.array([[0.2, 0.2], [0.25, 0.22]]), levels=[None, None], min_bandwidth=1e-3)
    near, far = kde.log_pdf(np.array([[0.22, 0.21], [0.9, 0.9]]))
    assert near > 0 > far
    tight = ProductKDE(data=np.array([[0.0], [0.0]]), levels=[None])
    assert tight.log_pdf(np.array([[1.0]]))[0] == pytest.approx(np.log(1e-32))


def test_samples_stay_in_the_cube_and_follow_the_kernels() -> None:
    data = np.array([[0.5, 0.1], [0.5, 0.1], [0.5, 0.1]])  # level 0 of 4 in dimension 1
    kde = ProductKDE(data=data, levels=[None, 4], min_bandwidth=0.3)
    X = kde.sample(np.random.default_rng(0), 20000, bandwidth_factor=2.0)
    assert X.shape == (20000, 2) and X.min() >= 0 and X.max() <= 1
    assert set(np.round(X[:, 1] * 4 - 0.5, 9)) == {0, 1, 2, 3}  # bin centres only
    assert np.mean(X[:, 1] == 0.125) == pytest.approx(1 - 0.3, abs=0.02)
    # truncated Gaussian with the widened bandwidth 0.6 around 0.5: symmetric, wider than with 0.3 (std 0.24)
    assert np.mean(X[:, 0]) == pytest.approx(0.5, abs=0.01)
    assert 0.26 < np.std(X[:, 0]) < 0.29


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="shape"):
        ProductKDE(data=np.zeros((3, 2)), levels=[None])
    with pytest.raises(ValueError, match="shape"):
        ProductKDE(data=np.zeros((0, 1)), levels=[None])
