"""The live objective: sample networks from a generator config, train them, aggregate.

:class:`TrainObjective` evaluates a *generator* config the way NAGO does (``research/nago.md``
§4.1): it samples ``k`` networks from the generator (network seeds derived from the trial seed),
profiles each (params, FLOPs, memory; latency when asked), trains each for the fidelity's epochs and aggregates:
every numeric metric ``m`` gets its mean as ``m`` and its standard deviation over the ``k``
networks as ``m_std``; the per-network values are kept as ``sample_metrics``. With ``k >= 2``
the spread within a generator becomes the observation noise the ``mobo`` surrogate uses.

Failures are typed so the study can record them and go on: :class:`EvalFailure` with ``kind``
``"invalid"`` (the config cannot be built), ``"nan"``, ``"oom"``, ``"timeout"`` or ``"error"``
(from training). The first failing network ends the trial; networks already trained are kept in
the failure's ``sample_metrics``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Mapping

import numpy as np

from nago.config.run import ModelSection
from nago.errors import ConfigError, EvalFailure
from nago.objectives.base import EvalResult, Objective
from nago.study.runner import derive_seed


PER_NETWORK_ONLY = frozenset({"net_seed"})  # kept in sample_metrics, meaningless as a mean

SEARCH_METRICS = frozenset({
    "val_acc", "val_loss",  # held-out validation split, accuracy in [0, 1]
    "train_acc", "train_loss",  # last epoch, on augmented batches
    "params", "flops", "memory_mb",  # nago.generator.profile: a count, MACs per image, MiB per training sample
    "latency_ms",  # measured only when asked (TrainObjective(latency=True)), see TrainObjective
    "train_seconds", "images_per_second", "wall_seconds",  # timings of the trial's device
    "generate_seconds", "build_seconds", "profile_seconds", "evaluate_seconds",  # see TrainObjective
})
"""Metrics every search trial of a :class:`TrainObjective` measures (each also as ``name_std``): the
names a run file's ``[search] objectives`` may use."""

TEST_METRICS = frozenset({"test_acc", "test_loss"})
"""Measured only with ``evaluate_test=True`` (``nago evaluate``, export): never a search objective."""


def aggregate(samples: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each metric as ``name`` and its sample standard deviation (ddof = 1, the unbiased
    variance's root) as ``name_std`` (0 for one sample); ``n_samples`` is the count.

    ``name_std**2 / n_samples`` is then the unbiased estimate of the variance of the mean, which is
    what the GP surrogates use as observation noise.
    """
    out: dict[str, float] = {}
    for key in samples[0]:
        if key in PER_NETWORK_ONLY:
            continue
        vals = np.array([s[key] for s in samples if key in s], dtype=float)
        out[key] = float(vals.mean())
        out[f"{key}_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
    out["n_samples"] = float(len(samples))
    return out


class TrainObjective(Objective):
    """Sample ``samples`` networks from a generator config, train each, aggregate.

    Args:
        data: dataset name for :func:`nago.training.data.load_dataset` (loaded lazily, once per process).
        data_options: other ``load_dataset`` arguments (``root``, ``image_size``, ...).
        train: the training protocol; its ``epochs`` is the default fidelity.
        model: parameter budget and head of each network (:class:`~nago.config.run.ModelSection`,
            whose defaults are the paper's: 4e6 parameters, a 1280-wide head, dropout 0.2).
        samples: networks sampled per config (the paper's search uses 1).
        evaluate_test: also evaluate the test split (``test_acc``, ``test_loss``). Off for a search,
            which selects on validation only; on for ``nago evaluate`` (the final protocol).
        latency: also measure ``latency_ms``: the median wall time, in milliseconds, of an eval-mode
            forward pass of **one image** (batch 1, fp32, no autocast, in the memory format training
            left the network in) on the trial's own device (``device``), median of 10 passes after 2
            warm-up passes, measured right after training (not part of ``wall_seconds``). It is the
            latency of the device the trial runs on: a CPU trial measures the CPU (noisy when
            workers share its cores), a CUDA trial the GPU (synchronised around each pass). Costs
            12 forward passes per network.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        threads: CPU threads torch may use while evaluating (0 = leave torch's setting). Small
            networks train as fast on one thread, and on a shared 2-core machine two OpenMP threads
            can run 10x slower than one (spin-waiting), so the CPU demo uses 1.

    Timings of each network, wall seconds (per network in ``sample_metrics``, mean and std in the
    trial's metrics): ``generate_seconds`` (sampling the graphs: config + seed -> ArchSpec),
    ``build_seconds`` (ArchSpec -> module with its initial weights), ``profile_seconds`` (params,
    FLOPs, memory), ``wall_seconds`` (training and evaluation: :func:`~nago.training.train.train_network`),
    of which ``train_seconds`` is the training loop and ``evaluate_seconds`` the rest (``wall_seconds -
    train_seconds``: the validation (and test) evaluation plus moving the network and setting up the loop).
    """

    def __init__(
        self,
        *,
        data: str,
        train: Any,
        data_options: Mapping[str, Any] | None = None,
        model: ModelSection | None = None,
        samples: int = 1,
        device: str = "auto",
        threads: int = 0,
        evaluate_test: bool = False,
        latency: bool = False,
    ) -> None:
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise ConfigError(f"samples: got {samples!r}; allowed: an integer >= 1")
        for name, flag in (("evaluate_test", evaluate_test), ("latency", latency)):
            if not isinstance(flag, bool):
                raise ConfigError(f"{name}: got {flag!r}; allowed: true or false")
        if model is not None and not isinstance(model, ModelSection):
            raise ConfigError(f"model: got {model!r}; allowed: a nago.config.run.ModelSection")
        self.data_name, self.data_options = data, dict(data_options or {})
        self.train, self.model = train, model if model is not None else ModelSection()
        self.evaluate_test, self.latency = evaluate_test, latency
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
            raise ConfigError(f"threads: got {threads!r}; allowed: an integer >= 0 (0 = torch's default)")
        self.samples, self.device, self.threads = samples, device, threads
        self._data = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_data": None}  # workers load the data themselves

    def load_data(self):
        if self._data is None:
            from nago.training.data import load_dataset

            self._data = load_dataset(self.data_name, **self.data_options)
        return self._data

    def build(self, config: Mapping[str, Any], seed: int):
        """The network of sample seed ``seed``: ``(spec, module)``; ConfigError if the config is invalid.

        ``seed`` draws the graphs and the initial weights (torch's global RNG is left as it was), so
        the same ``(config, seed)`` gives the same network with the same weights.
        """
        spec, net, _ = self._build_timed(config, seed)
        return spec, net

    def _build_timed(self, config: Mapping[str, Any], seed: int):
        """:meth:`build`, and its ``{"generate_seconds", "build_seconds"}`` (wall seconds)."""
        from nago.generator.hnag import generate

        data = self.load_data()
        model, generator_config = self.model.split(config)  # a searched budget is the model's, not the generator's
        t0 = time.perf_counter()
        spec = generate(generator_config, seed)
        t1 = time.perf_counter()
        net = model.build(spec, in_channels=data.in_channels, image_size=data.image_size,
                               num_classes=data.num_classes, seed=seed)
        return spec, net, {"generate_seconds": t1 - t0, "build_seconds": time.perf_counter() - t1}

    def __call__(self, config: Mapping[str, Any], *, seed: int, fidelity: float | None = None) -> EvalResult:
        import torch

        from nago.generator.profile import latency_ms, profile
        from nago.training.train import TrainFailure, resolve_device, train_network

        if self.threads:
            torch.set_num_threads(self.threads)
        data = self.load_data()
        train = self.train if fidelity is None else dataclasses.replace(self.train, epochs=float(fidelity))
        device = resolve_device(self.device)
        samples: list[dict[str, float]] = []
        for i in range(self.samples):
            net_seed = derive_seed(seed, i, 0)
            try:
                spec, net, timings = self._build_timed(config, net_seed)
            except ConfigError as e:
                raise EvalFailure("invalid", str(e), sample_metrics=samples) from None
            shape = (data.in_channels, data.image_size, data.image_size)
            t0 = time.perf_counter()
            prof = profile(net, shape).as_dict()  # on the CPU: deterministic counts
            timings["profile_seconds"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            try:
                result = train_network(net.to(device), data, config=train, seed=derive_seed(seed, i, 1), device=device,
                                       evaluate_test=self.evaluate_test)
            except TrainFailure as e:
                raise EvalFailure(e.kind, f"network {i} (seed {net_seed}): {e.message}", sample_metrics=samples) from None
            wall = time.perf_counter() - t0
            sample = {**prof, **result.metrics, "net_seed": float(net_seed), **timings, "wall_seconds": wall,
                      "evaluate_seconds": max(0.0, wall - result.metrics.get("train_seconds", 0.0))}
            if self.latency:  # on the trial's device, after training: see the class docstring
                try:
                    sample["latency_ms"] = latency_ms(net, shape)
                except torch.cuda.OutOfMemoryError as e:
                    raise EvalFailure("oom", f"network {i} (seed {net_seed}): latency: {e}", sample_metrics=samples) from None
            bad = [k for k, v in sample.items() if not math.isfinite(v)]
            if bad:
                raise EvalFailure("nan", f"network {i}: non-finite metrics {bad}", sample_metrics=samples)
            samples.append(sample)
        return EvalResult(aggregate(samples), samples)
