"""The typed sections of a run file: ``[data]``, ``[model]``, ``[evaluate]``, ``[search]``.

Each is a frozen dataclass holding its own defaults, built from the TOML table with errors that name
the section, the field, the value and what is allowed. :class:`~nago.config.run.RunConfig` puts them
together; ``nago.config.run`` re-exports them.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nago.errors import ConfigError


DATASET_SHAPES = {
    "digits": (1, 8, 10),
    "cifar10": (3, 32, 10),
    "cifar100": (3, 32, 100),
    "sport8": (3, 224, 8),
    "mit67": (3, 224, 67),
    "flowers102": (3, 224, 102),
    "imagenet": (3, 224, 1000),
    "mnist": (1, 28, 10),
    "fashion-mnist": (1, 28, 10),
    "idx": (1, 28, 10),  # MNIST-like; the real class count comes from the labels
}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_str(v: Any) -> bool:
    return isinstance(v, str) and v != ""


Rule = tuple[Callable[[Any], bool], str]


def _check(section: str, obj: Any, rules: Mapping[str, Rule]) -> None:
    """Raise :class:`ConfigError` for the first field of ``obj`` that breaks its rule."""
    for name, (ok, allowed) in rules.items():
        value = getattr(obj, name)
        if not ok(value):
            raise ConfigError(f"{section}.{name}: got {value!r}; allowed: {allowed}")


def _from_table(cls: type, section: str, table: Any, keys: Iterable[str]) -> Any:
    """``cls(**table)`` after checking that ``table`` is a table with only ``keys``."""
    keys = sorted(keys)
    if not isinstance(table, Mapping):
        raise ConfigError(f"[{section}] must be a table; got {table!r}")
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in [{section}]; allowed: {keys}")
    return cls(**table)


@dataclass(frozen=True)
class DataSection:
    """``[data]``: the dataset and its splits (the arguments of :func:`nago.training.data.load_dataset`).

    Attributes:
        dataset: registry name (``"digits"``, ``"cifar10"``, ...); needed to train, not to read the file.
        root: dataset directory (``~`` expanded); ``--data-root`` overrides it; ``None`` = not given.
        image_size: side length in pixels; ``None`` = the dataset's native size.
        val_fraction: share of the training split held out as the validation split, in ``(0, 1)``.
        max_train: keep at most this many training images; 0 = all.
        cache_dir: cache of decoded images; ``None`` = ``<root>/.nago-cache``.
    """

    dataset: str | None = None
    root: str | None = None
    image_size: int | None = None
    val_fraction: float = 0.1
    max_train: int = 0
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        _check("data", self, {
            "dataset": (lambda v: v is None or _is_str(v), "a dataset name such as \"cifar10\""),
            "root": (lambda v: v is None or isinstance(v, str), "a directory path"),
            "image_size": (lambda v: v is None or (_is_int(v) and v >= 1), "an integer >= 1 (pixels)"),
            "val_fraction": (lambda v: _is_num(v) and 0 < v < 1, "a number in (0, 1)"),
            "max_train": (lambda v: _is_int(v) and v >= 0, "an integer >= 0 (0 = all training images)"),
            "cache_dir": (lambda v: v is None or _is_str(v), "a directory path"),
        })

    def load_options(self, *, data_root: str | None = None) -> dict[str, Any]:
        """Keyword arguments of ``load_dataset`` besides the name (``data_root`` overrides ``root``)."""
        root = data_root if data_root is not None else self.root
        out: dict[str, Any] = {"root": str(Path(root).expanduser()) if root else None,
                               "image_size": self.image_size, "val_fraction": float(self.val_fraction)}
        if self.max_train:
            out["max_train"] = self.max_train
        if self.cache_dir:
            out["cache_dir"] = str(Path(self.cache_dir).expanduser())
        return out

    def shape(self) -> tuple[int, int, int]:
        """``(in_channels, image_size, num_classes)`` expected from the dataset (no data read;
        an unlisted dataset is assumed 3-channel, 32 px, 10 classes)."""
        c, size, k = DATASET_SHAPES.get(self.dataset or "cifar10", (3, 32, 10))
        return c, int(self.image_size or size), k


@dataclass(frozen=True)
class ModelSection:
    """``[model]``: how a sampled ArchSpec becomes a network (:func:`nago.generator.model.build_model`).

    Attributes:
        param_limit: parameter budget of each network, a count (not millions); sets the width multiplier.
            In the run file either a number, or ``[low, high]``: the budget is then *searched* with the
            generator, as a log-scale float parameter ``param_limit`` added to the space (the range's
            geometric mean is the default). A searched budget is what lets a front trade accuracy
            against size: at a fixed budget every generator's networks have about the same size.
        param_limit_range: ``(low, high)`` when the budget is searched, else ``None``.
        head_width: channels of the head's 1x1 conv (the paper's 1280; smaller for tiny budgets).
        dropout: dropout probability before the classifier.
    """

    param_limit: float = 4e6
    head_width: int = 1280
    dropout: float = 0.2
    param_limit_range: tuple[float, float] | None = None

    #: Model settings a space may search; a config's value overrides the section's (see :meth:`split`).
    SEARCHABLE = ("param_limit",)

    def __post_init__(self) -> None:
        if isinstance(self.param_limit, (list, tuple)):
            rng = self.param_limit
            if not (len(rng) == 2 and all(_is_num(v) and v > 0 for v in rng) and rng[0] < rng[1]):
                raise ConfigError(f"model.param_limit: got {list(rng)!r}; allowed: a number of parameters > 0, or "
                                  "[low, high] with 0 < low < high to search the budget (log scale)")
            object.__setattr__(self, "param_limit_range", (float(rng[0]), float(rng[1])))
            object.__setattr__(self, "param_limit", math.sqrt(float(rng[0]) * float(rng[1])))
        _check("model", self, {
            "param_limit": (lambda v: _is_num(v) and v > 0, "a number of parameters > 0 (a count, e.g. 4e6)"),
            "head_width": (lambda v: _is_int(v) and v >= 1, "an integer >= 1 (channels)"),
            "dropout": (lambda v: _is_num(v) and 0 <= v < 1, "a probability in [0, 1)"),
        })
        object.__setattr__(self, "param_limit", float(self.param_limit))
        object.__setattr__(self, "dropout", float(self.dropout))

    def search_params(self) -> dict[str, dict[str, Any]]:
        """The model's searched parameters as space-file tables (``{}`` when nothing is searched)."""
        if self.param_limit_range is None:
            return {}
        low, high = self.param_limit_range
        return {"param_limit": {"type": "float", "low": low, "high": high, "log": True,
                                "doc": "parameter budget of each network (a count), searched with the generator"}}

    def split(self, config: Mapping[str, Any]) -> tuple["ModelSection", dict[str, Any]]:
        """Separate a config's model settings (:data:`SEARCHABLE`) from its generator parameters.

        Returns:
            This section with the config's model values applied, and the generator config (the rest).
        """
        own = {k: config[k] for k in self.SEARCHABLE if k in config}
        model = dataclasses.replace(self, **{k: float(v) for k, v in own.items()}) if own else self
        return model, {k: v for k, v in config.items() if k not in own}

    def build(self, spec: Any, *, in_channels: int, image_size: int, num_classes: int, seed: int):
        """The network of ``spec`` with this budget and head, its initial weights drawn from ``seed``.

        This is the one place a network is built for training, evaluation, export and ``nago
        sample``; torch's global RNG is left as it was, so the same ``(spec, seed)`` always gives
        the same weights.

        Args:
            spec: the :class:`~nago.generator.spec.ArchSpec`.
            in_channels: 1 (grey) or 3 (RGB).
            image_size: input side in pixels.
            num_classes: output logits.
            seed: seeds the initial weights.

        Returns:
            The :class:`~nago.generator.model.Network` (on the CPU; ``info`` has ``params`` etc.).
        """
        import torch

        from nago.generator.model import build_model

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            return build_model(spec, in_channels=in_channels, image_size=image_size, num_classes=num_classes,
                               param_limit=self.param_limit, head_width=self.head_width, dropout=self.dropout)


@dataclass(frozen=True)
class EvaluateSection:
    """``[evaluate]``: how a generator config is evaluated.

    Attributes:
        samples: networks sampled (and trained) per generator config.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
        threads: CPU threads torch may use (0 = torch's default).
    """

    samples: int = 1
    device: str = "auto"
    threads: int = 0

    def __post_init__(self) -> None:
        _check("evaluate", self, {
            "samples": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
            "device": (_is_str, "\"auto\", \"cpu\", \"cuda\", \"cuda:1\", ..."),
            "threads": (lambda v: _is_int(v) and v >= 0, "an integer >= 0 (0 = torch's default)"),
        })


def _split_options(options: Any, strategy: str) -> tuple[dict[str, dict[str, Any]], bool]:
    """``[search.options]`` as ``{strategy: options}``, and whether it was the flat (old) form."""
    if not isinstance(options, Mapping):
        raise ConfigError(f"search.options: got {options!r}; allowed: a table of [search.options.<strategy>] tables")
    tables = [k for k, v in options.items() if isinstance(v, Mapping)]
    if not tables:  # flat: the options of [search] strategy
        return ({strategy: dict(options)} if options else {}), bool(options)
    plain = sorted(set(options) - set(tables))
    if plain:
        raise ConfigError(f"search.options: got plain option(s) {plain} next to per-strategy table(s) {sorted(tables)}; "
                          f"allowed: only [search.options.<strategy>] tables (e.g. [search.options.{strategy}])")
    return {k: dict(v) for k, v in options.items()}, False


@dataclass(frozen=True)
class SearchSection:
    """``[search]``: what the search optimises and how.

    Attributes:
        strategy: registry name of the strategy (``"mobo"``, ``"bohb"``, ``"random"``, ...).
        trials: trials to run (``--trials`` overrides).
        objectives: ``"metric:max|min"`` items; each metric one a search trial measures
            (:data:`nago.objectives.network.SEARCH_METRICS`).
        batch: proposals per ask.
        fidelity: training epochs of a search evaluation; ``None`` = the ``[train]`` epochs.
        time_limit_s: wall-clock limit of the search in seconds; ``None`` (0 in the file) = none.
        ref_point: hypervolume reference point in metric units, one per objective; ``None`` = inferred.
        executor: ``"inline"``, ``"local"`` or ``"ray"``.
        workers: trials at once (local/ray); ``None`` = one per GPU, else per core.
        ray_address: the Ray cluster; ``None`` = ``RAY_ADDRESS`` or a local instance.
        options: strategy options per strategy name, from ``[search.options.<strategy>]`` tables.
        options_flat: ``options`` came from a flat ``[search.options]`` table (so they belong to ``strategy``).
        warm_start: earlier study directories (or their ``study.sqlite``) to start from, relative to the
            run file (:mod:`nago.study.warm_start`; ``--warm-start`` overrides); empty: a cold start.
        metrics: the metrics a trial measures, which the objectives must name: ``None`` for a network
            search (:data:`~nago.objectives.network.SEARCH_METRICS`); a table space's metric columns.
    """

    strategy: str = "mobo"
    trials: int = 20
    objectives: tuple[str, ...] = ("val_acc:max", "memory_mb:min")
    batch: int = 1
    fidelity: float | None = None
    time_limit_s: float | None = None
    ref_point: tuple[float, ...] | None = None
    executor: str = "inline"
    workers: int | None = None
    ray_address: str | None = None
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    options_flat: bool = False
    metrics: tuple[str, ...] | None = None
    warm_start: tuple[str, ...] = ()

    KEYS = ("strategy", "trials", "objectives", "batch", "fidelity", "time_limit_s", "ref_point", "executor",
            "workers", "ray_address", "options", "warm_start")

    def __post_init__(self) -> None:
        objectives = [self.objectives] if isinstance(self.objectives, str) else self.objectives
        if isinstance(objectives, (list, tuple)):
            object.__setattr__(self, "objectives", tuple(objectives))
        if isinstance(self.ref_point, list):
            object.__setattr__(self, "ref_point", tuple(self.ref_point))
        warm = [self.warm_start] if isinstance(self.warm_start, str) else self.warm_start
        if isinstance(warm, (list, tuple)):
            object.__setattr__(self, "warm_start", tuple(warm))
        if self.time_limit_s == 0 and not isinstance(self.time_limit_s, bool):
            object.__setattr__(self, "time_limit_s", None)
        _check("search", self, {
            "objectives": (lambda v: isinstance(v, tuple) and len(v) >= 1 and all(_is_str(s) for s in v),
                           "a list of \"metric:max|min\" strings, e.g. [\"val_acc:max\", \"memory_mb:min\"]"),
        })
        _check("search", self, {
            "strategy": (_is_str, "a strategy name such as \"mobo\", \"bohb\", \"random\""),
            "trials": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
            "batch": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
            "fidelity": (lambda v: v is None or (_is_num(v) and v > 0), "a number of epochs > 0"),
            "time_limit_s": (lambda v: v is None or (_is_num(v) and v > 0), "a number of seconds >= 0 (0 = none)"),
            "ref_point": (lambda v: v is None or (isinstance(v, tuple) and len(v) == len(self.objectives)
                                                  and all(_is_num(x) for x in v)),
                          f"a list of {len(self.objectives)} numbers, one per objective, in metric units"),
            "executor": (_is_str, "\"inline\", \"local\" or \"ray\""),
            "workers": (lambda v: v is None or (_is_int(v) and v >= 1), "an integer >= 1"),
            "ray_address": (lambda v: v is None or _is_str(v), "a Ray address such as \"auto\" or \"host:6379\""),
            "warm_start": (lambda v: isinstance(v, tuple) and all(_is_str(p) and p for p in v),
                           "a list of earlier study directories, e.g. [\"out/cifar10\"]"),
        })
        if self.fidelity is not None:
            object.__setattr__(self, "fidelity", float(self.fidelity))
        _check_objectives(self.objectives, self.metrics)
        for name, table in self.options.items():
            if not isinstance(table, Mapping):
                raise ConfigError(f"search.options.{name}: got {table!r}; allowed: a table of {name} options")
        object.__setattr__(self, "options", {k: dict(v) for k, v in self.options.items()})

    @classmethod
    def from_dict(cls, table: Mapping[str, Any], *, metrics: Iterable[str] | None = None,
                  objectives: Iterable[str] | None = None) -> "SearchSection":
        """Build from a ``[search]`` table (flat or per-strategy ``[search.options]``).

        Args:
            table: the ``[search]`` table.
            metrics: what a trial measures (a table space's metric columns); ``None``: a network search.
            objectives: the default objectives when the table names none (a table's search metrics).
        """
        if not isinstance(table, Mapping):
            raise ConfigError(f"[search] must be a table; got {table!r}")
        unknown = sorted(set(table) - set(cls.KEYS))
        if unknown:
            raise ConfigError(f"unknown key(s) {unknown} in [search]; allowed: {sorted(cls.KEYS)}")
        values = dict(table)
        strategy = values.get("strategy", cls.strategy)
        if "options" in values:
            values["options"], values["options_flat"] = _split_options(values["options"], str(strategy))
        if metrics is not None:
            values["metrics"] = tuple(metrics)
        if objectives is not None and "objectives" not in values:
            values["objectives"] = tuple(objectives)
        return cls(**values)

    def options_for(self, strategy: str | None = None, *, known: Iterable[str] | None = None) -> dict[str, Any]:
        """The options of ``strategy`` (default ``[search] strategy``): its ``[search.options.<strategy>]`` table.

        A flat ``[search.options]`` table belongs to ``[search] strategy``: for another strategy
        (``--strategy``) it is dropped with a warning naming its options.

        Args:
            strategy: the strategy the search runs.
            known: registered strategy names; a per-strategy table named otherwise is a ConfigError.
        """
        strategy = (strategy or self.strategy).lower()
        if known is not None and not self.options_flat:
            known = sorted(str(k).lower() for k in known)
            bad = sorted(k for k in self.options if k.lower() not in known)
            if bad:
                raise ConfigError(f"search.options.{bad[0]}: unknown strategy {bad[0]!r}; allowed: {', '.join(known)}")
        if self.options_flat and strategy != self.strategy.lower():
            dropped = sorted(self.options.get(self.strategy, {}))
            warnings.warn(f"[search.options] {dropped} are options of [search] strategy = {self.strategy!r}; "
                          f"not passed to {strategy!r} (give its options as [search.options.{strategy}])",
                          UserWarning, stacklevel=2)
            return {}
        tables = {k.lower(): v for k, v in self.options.items()}
        return dict(tables.get(strategy, {}))


def _check_objectives(items: Iterable[str], measured: Iterable[str] | None = None) -> None:
    """Each objective parses and names a metric a search trial measures (``measured``: a table's columns)."""
    from nago.objectives.network import SEARCH_METRICS, TEST_METRICS
    from nago.study.trial import parse_objectives

    if measured is not None:
        measured = list(measured)
        for spec in parse_objectives(list(items)):
            if spec.name not in measured:
                raise ConfigError(f"search.objectives: got metric {spec.name!r}; allowed: the table's metric columns "
                                  f"([table.metrics] of the space): {', '.join(measured)}")
        return
    for spec in parse_objectives(list(items)):
        if spec.name in SEARCH_METRICS:
            continue
        why = (" (test metrics are measured by `nago evaluate` and `nago export --epochs`, never during a search: "
               "it selects on validation)") if spec.name in TEST_METRICS else ""
        raise ConfigError(f"search.objectives: got metric {spec.name!r}{why}; allowed: {', '.join(sorted(SEARCH_METRICS))}")
