"""Product-kernel density estimate on the unit cube: the density model of BOHB's TPE pair.

A numpy re-implementation of what BOHB (Falkner et al. 2018, HpBandSter) gets from statsmodels'
``KDEMultivariate(bw="normal_reference")``: one kernel per dimension, multiplied.

* continuous dimensions: a Gaussian kernel truncated to ``[0, 1]`` (renormalised, so the density
  integrates to one on the cube; sampling draws from the same truncated kernel);
* discrete dimensions with ``c`` levels (categoricals): the Aitchison–Aitken kernel
  ``K(x, x_i) = 1 - λ`` if ``x == x_i`` else ``λ / (c - 1)``, on level indices.

Bandwidths follow Scott's rule as statsmodels' ``normal_reference`` computes it,
``1.06 · std · n^(-1/(4+d))`` (population std over the data; level indices for discrete
dimensions), floored at ``min_bandwidth``; ``λ`` is also capped at ``(c-1)/c``, where the kernel is
uniform (beyond it the kernel would prefer the other levels).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.special import logsumexp, ndtr, ndtri

_LOG_FLOOR = float(np.log(1e-32))


class ProductKDE:
    """A kernel density estimate over ``[0, 1]^d`` with per-dimension kernels.

    Args:
        data: observations in unit-cube coordinates, shape ``[n, d]`` with ``n >= 1``. For discrete
            dimensions a coordinate ``u`` means level ``floor(u * c)`` (the space's bin layout).
        levels: per dimension, the number of discrete levels ``c`` for an Aitchison–Aitken kernel,
            or ``None`` for a truncated Gaussian.
        min_bandwidth: floor of every bandwidth (unit-cube units for Gaussians, probability mass
            for discrete kernels).
    """

    def __init__(self, *, data: np.ndarray, levels: Sequence[int | None], min_bandwidth: float = 1e-3) -> None:
        data = np.asarray(data, dtype=float)
        if data.ndim != 2 or data.shape[0] < 1 or data.shape[1] != len(levels):
            raise ValueError(f"data must have shape [n >= 1, {len(levels)}], got {data.shape}")
        self.levels = list(levels)
        self.discrete = np.array([c is not None for c in self.levels], dtype=bool)
        self.data = self._encode(data)
        n, d = self.data.shape
        bw = 1.06 * self.data.std(axis=0) * n ** (-1.0 / (4 + d))
        bw = np.maximum(bw, min_bandwidth)
        for j, c in enumerate(self.levels):
            if c is not None:
                bw[j] = min(bw[j], (c - 1) / c) if c > 1 else 0.0
        self.bandwidth = bw

    @property
    def dim(self) -> int:
        return self.data.shape[1]

    def _encode(self, X: np.ndarray) -> np.ndarray:
        """Unit coordinates -> internal values (level indices for discrete dimensions)."""
        X = np.clip(np.asarray(X, dtype=float), 0.0, 1.0).copy()
        for j, c in enumerate(self.levels):
            if c is not None:
                X[:, j] = np.minimum(np.floor(X[:, j] * c), c - 1)
        return X

    def _decode(self, Z: np.ndarray) -> np.ndarray:
        """Internal values -> unit coordinates (bin centres for discrete dimensions)."""
        X = Z.copy()
        for j, c in enumerate(self.levels):
            if c is not None:
                X[:, j] = (Z[:, j] + 0.5) / c
        return X

    def log_pdf(self, X: np.ndarray) -> np.ndarray:
        """Log density at points ``X`` of shape ``[m, d]`` (unit coordinates); returns ``[m]``.

        Each point's density is floored at ``1e-32`` (as HpBandSter does) so ratios stay finite.
        """
        Z = self._encode(np.asarray(X, dtype=float).reshape(-1, self.dim))
        logk = np.zeros((Z.shape[0], self.data.shape[0]))
        for j, c in enumerate(self.levels):
            x, xi, h = Z[:, j : j + 1], self.data[None, :, j], self.bandwidth[j]
            if c is None:
                mass = ndtr((1.0 - xi) / h) - ndtr(-xi / h)
                logk += -0.5 * ((x - xi) / h) ** 2 - np.log(h * np.sqrt(2 * np.pi) * mass)
            elif c > 1:
                logk += np.where(x == xi, np.log1p(-h), np.log(h / (c - 1)))
        out = logsumexp(logk, axis=1) - np.log(self.data.shape[0])
        return np.maximum(out, _LOG_FLOOR)

    def sample(self, rng: np.random.Generator, n: int, *, bandwidth_factor: float = 1.0) -> np.ndarray:
        """Draw ``n`` points: pick data points uniformly, then perturb each dimension by its kernel.

        Args:
            rng: the random generator to draw from.
            n: number of points.
            bandwidth_factor: widens the Gaussian bandwidths for sampling only (BOHB's ``bw_factor``;
                discrete kernels are not widened).

        Returns:
            Points in unit coordinates, shape ``[n, d]``; discrete dimensions at their bin centres.
        """
        centres = self.data[rng.integers(0, self.data.shape[0], size=n)]
        Z = centres.copy()
        for j, c in enumerate(self.levels):
            m = centres[:, j]
            if c is None:
                h = self.bandwidth[j] * bandwidth_factor
                lo, hi = ndtr(-m / h), ndtr((1.0 - m) / h)
                u = lo + rng.random(n) * (hi - lo)
                Z[:, j] = np.clip(m + h * ndtri(u), 0.0, 1.0)
            elif c > 1:
                move = rng.random(n) < self.bandwidth[j]
                other = (m + rng.integers(1, c, size=n)) % c
                Z[:, j] = np.where(move, other, m)
        return self._decode(Z)
