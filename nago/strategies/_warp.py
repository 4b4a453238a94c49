"""Output warping of GP training targets, per objective (maximisation sense) [Song2024vizier].

Accuracy-like metrics have a long tail of failures: on NAS-Bench-201 a few cells reach ~10 %
validation accuracy while the good ones sit within 0.5 % of 91.6 %. A standardised GP then spends
its scale on the tail and sees the top, where the search decides, as flat. The warp of Google
Vizier's default GP bandit fixes this with two monotone steps per column:

1. **half-rank**: values below the median are replaced by ``median + s * Phi^-1(q)``, ``q`` their
   rank quantile (ties averaged) and ``s`` the root-mean-square distance of the upper half from the
   median. The tail keeps its order, not its magnitude; the upper half is untouched.
2. **log**: with ``z`` the min-max scaled value in [0, 1], ``0.5 - log1p((1 - z) * (c - 1)) / log(c)``
   (``c = 1.5``): a mild concave map onto [-0.5, 0.5] that stretches the top. Its slope at the maximum is
   finite, unlike ``-log(max - y + eps)``, which makes the incumbent an outlier no GP mean can reach
   (log-EI of every candidate then collapses towards -40 and the search stalls in its basin).

Measured on NB201 (``nago bench search spaces/nb201.toml --strategies mobo --seeds 20``, BENCHMARKS.md):
with raw targets mobo queried the optimum in 6 of 20 runs, with the warp in 16 (18 with the lengthscale
prior of :mod:`nago.strategies._gp`). On smooth synthetic problems it can cost a little (BraninCurrin:
94 % instead of 97 % of the maximum hypervolume after 40 evaluations); ``warp="none"`` turns it off.

Other values map through the same monotone piecewise-linear map of the observed values, extrapolated
linearly with the slope of its end segments (:meth:`OutputWarp.map`), and back (:meth:`OutputWarp.unmap`,
its exact inverse, differentiable).

With several objectives mobo fits its GPs to warped values but measures the hypervolume in raw units
(posterior samples go back through :meth:`OutputWarp.unmap`): the half-rank step keeps the order of the
lower tail, not its magnitude, and a hypervolume *is* magnitudes (see :mod:`nago.strategies.mobo`,
"Failures in two-objective spaces").
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import norm, rankdata

LOG_WARP_C = 1.5


def half_rank(y: np.ndarray) -> np.ndarray:
    """The half-rank step on one column ``[n]`` (see the module docstring)."""
    med = float(np.median(y))
    upper = y[y >= med]
    s = float(np.sqrt(np.mean((upper - med) ** 2)))
    if not s > 0:
        s = float(y.max() - y.min()) or 1.0
    out = y.astype(np.float64).copy()
    lower = y < med
    q = (rankdata(y) - 0.5) / len(y)
    out[lower] = med + s * norm.ppf(q[lower])
    return out


def log_warp(y: np.ndarray) -> np.ndarray:
    """The log step on one column ``[n]``; a constant column maps to zeros."""
    span = float(y.max() - y.min())
    if not span > 0:
        return np.zeros_like(y, dtype=np.float64)
    z = (y - y.min()) / span
    return 0.5 - np.log1p((1.0 - z) * (LOG_WARP_C - 1.0)) / np.log(LOG_WARP_C)


class OutputWarp:
    """Half-rank + log warp fitted to observed targets.

    Args:
        Y: ``[n, m]`` observed values, maximisation sense, all finite.

    Attributes:
        warped: ``[n, m]`` the warped targets (same dtype as ``Y``).
        scale: ``[m]`` std of the warped over std of the raw values per column (1 where either is 0),
            the factor a noise *standard deviation* is multiplied by.
    """

    def __init__(self, Y: torch.Tensor) -> None:
        raw = Y.detach().cpu().numpy().astype(np.float64)
        self._knots: list[tuple[np.ndarray, np.ndarray]] = []
        cols, scale = [], []
        for j in range(raw.shape[1]):
            y = raw[:, j]
            w = log_warp(half_rank(y))
            cols.append(w)
            ys, first = np.unique(y, return_index=True)  # w is a function of y: one knot per distinct value
            self._knots.append((ys, w[first]))
            sy, sw = float(y.std()), float(w.std())
            scale.append(sw / sy if sy > 0 and sw > 0 else 1.0)
        self.warped = torch.as_tensor(np.stack(cols, axis=1), dtype=Y.dtype)
        self.scale = torch.tensor(scale, dtype=Y.dtype)

    def map(self, values: torch.Tensor) -> torch.Tensor:
        """Warp raw values ``[..., m]`` (maximisation sense) through the fitted maps."""
        v = values.detach().cpu().numpy().astype(np.float64)
        out = np.empty_like(v)
        for j, (xs, ws) in enumerate(self._knots):
            x = v[..., j]
            if len(xs) < 2:
                out[..., j] = x - xs[0] + ws[0]
                continue
            lo = (ws[1] - ws[0]) / (xs[1] - xs[0])
            hi = (ws[-1] - ws[-2]) / (xs[-1] - xs[-2])
            out[..., j] = np.where(x < xs[0], ws[0] + (x - xs[0]) * lo,
                                   np.where(x > xs[-1], ws[-1] + (x - xs[-1]) * hi, np.interp(x, xs, ws)))  # fmt: skip
        return torch.as_tensor(out, dtype=values.dtype)

    def unmap(self, values: torch.Tensor) -> torch.Tensor:
        """Warped values ``[..., m]`` back to raw values (maximisation sense): the inverse of :meth:`map`
        (piecewise linear between the knots, the end segments' slopes beyond them), in torch and
        differentiable, so an acquisition can apply it to posterior samples."""
        cols = []
        for j, (xs, ws) in enumerate(self._knots):
            w = values[..., j]
            x_knots = torch.as_tensor(xs, dtype=values.dtype, device=values.device)
            w_knots = torch.as_tensor(ws, dtype=values.dtype, device=values.device)
            if len(xs) < 2:
                cols.append(w - w_knots[0] + x_knots[0])
                continue
            i = torch.searchsorted(w_knots, w.detach().contiguous()).clamp(1, len(xs) - 1)  # segment [i-1, i]
            w0, x0 = w_knots[i - 1], x_knots[i - 1]
            slope = (x_knots[i] - x0) / (w_knots[i] - w0)
            cols.append(x0 + (w - w0) * slope)
        return torch.stack(cols, dim=-1)
