import numpy as np
import pytest
import torch

from nago.strategies._warp import OutputWarp, half_rank, log_warp


def test_half_rank_keeps_the_upper_half_and_the_order():
    y = np.array([10.0, 85.0, 88.0, 89.0, 90.0, 90.5, 91.0, 91.6, 12.0])
    w = half_rank(y)
    med = np.median(y)
    assert np.array_equal(w[y >= med], y[y >= med])
    assert np.array_equal(np.argsort(w, kind="stable"), np.argsort(y, kind="stable"))
    assert w[0] > med - 5 * np.sqrt(np.mean((y[y >= med] - med) ** 2))  # the tail no longer dominates the scale


def test_log_warp_range_and_shape():
    y = np.linspace(0.0, 1.0, 11)
    w = log_warp(y)
    assert w[0] == pytest.approx(-0.5) and w[-1] == pytest.approx(0.5)
    assert (np.diff(w) > 0).all() and (np.diff(w, 2) > 0).all()  # increasing, steeper at the top, finite slope
    assert np.array_equal(log_warp(np.full(3, 2.0)), np.zeros(3))


def test_output_warp_columns_map_and_noise_scale():
    rng = np.random.default_rng(0)
    Y = torch.tensor(np.stack([np.r_[rng.normal(90, 1, 18), 10.0, 11.0], rng.normal(0, 3, 20)], 1), dtype=torch.float64)
    w = OutputWarp(Y)
    assert w.warped.shape == (20, 2) and w.warped.dtype == torch.float64
    assert torch.allclose(w.map(Y), w.warped)
    probe = torch.tensor([[0.0, -20.0], [50.0, 0.0], [100.0, 20.0]], dtype=torch.float64)
    out = w.map(probe)
    assert (out[:1] < w.warped.min(0).values).all() and (out[2:] > w.warped.max(0).values).all()  # extrapolated
    assert (out.diff(dim=0) > 0).all()
    assert (w.scale > 0).all()
    const = OutputWarp(torch.ones(4, 1, dtype=torch.float64))
    assert torch.equal(const.warped, torch.zeros(4, 1, dtype=torch.float64)) and const.scale.item() == 1.0
    assert const.map(torch.tensor([[0.5]], dtype=torch.float64)).item() == pytest.approx(-0.5)


def test_unmap_inverts_map_with_gradients():
    rng = np.random.default_rng(1)
    Y = torch.tensor(np.stack([np.r_[rng.normal(90, 1, 18), 10.0, 10.01], rng.normal(0, 3, 20)], 1), dtype=torch.float64)
    w = OutputWarp(Y)
    probe = torch.tensor([[0.0, -20.0], [10.005, 0.0], [50.0, 1.0], [100.0, 20.0]], dtype=torch.float64)
    assert torch.allclose(w.unmap(w.map(probe)), probe) and torch.allclose(w.unmap(w.warped), Y)
    x = w.warped.clone().requires_grad_(True)
    w.unmap(x).sum().backward()
    assert torch.isfinite(x.grad).all() and (x.grad > 0).all()
    const = OutputWarp(torch.ones(3, 1, dtype=torch.float64))
    assert const.unmap(torch.tensor([[0.25]], dtype=torch.float64)).item() == pytest.approx(1.25)
