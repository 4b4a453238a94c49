"""Run configs (``runs/*.toml``): which space, which data, which model budget, how to train and search.

::

    [run]
    name = "digits"
    space = "../spaces/hnag.toml"     # relative to this file, or absolute
    seed = 0

    [data]                             # DataSection: nago.training.data.load_dataset arguments
    dataset = "digits"
    root = "~/data/cifar"              # optional; --data-root overrides
    image_size = 8                     # optional; the dataset's native size otherwise
    val_fraction = 0.1
    max_train = 0                      # optional; 0 = all

    [model]                            # ModelSection: nago.generator.model.build_model arguments
    param_limit = 4e6
    head_width = 1280
    dropout = 0.2

    [train]                            # nago.training.train.TrainConfig (+ [train.augment])
    epochs = 60
    ...

    [evaluate]                         # EvaluateSection
    samples = 1                        # networks sampled per generator config
    device = "auto"
    threads = 0                        # CPU threads for torch (0 = torch's default)

    [search]                           # SearchSection
    strategy = "mobo"
    trials = 50
    objectives = ["val_acc:max", "memory_mb:min"]
    batch = 1                          # proposals per ask
    fidelity = 60                      # epochs per search evaluation (default: [train] epochs)
    time_limit_s = 0                   # 0 = none
    ref_point = [0.5, 100.0]           # hypervolume reference point in metric units (else inferred)
    executor = "inline"                # inline | local (a process per trial) | ray
    workers = 2                        # trials at once (local/ray; default: GPUs, else cores)
    ray_address = "auto"               # ray: the cluster (default RAY_ADDRESS, else a local instance)
    [search.options.mobo]              # options of the strategy "mobo" (one table per strategy)
    n_init = 16
    [search.options.bohb]              # used when the search runs bohb (e.g. --strategy bohb)
    min_budget = 30

Each section is a frozen dataclass (:class:`DataSection`, :class:`ModelSection`,
:class:`EvaluateSection`, :class:`SearchSection`) holding its defaults; ``[train]`` is checked by
:class:`~nago.training.train.TrainConfig` when the objective is built. Unknown sections or keys and
values of the wrong type or out of range are :class:`~nago.errors.ConfigError` naming the field, the
value and what is allowed. The search objectives are checked against the metrics a search trial
measures (:data:`nago.objectives.network.SEARCH_METRICS`).

A run on a **table space** (``kind = "table"``, e.g. ``spaces/nb201-mo.toml``; see
:mod:`nago.objectives.table`) has only ``[run]`` and ``[search]``: trials are looked up in the table's
CSV, nothing is trained, and the objectives default to the table's search metrics (``[table] search``
with their ``[table.metrics]`` directions); objectives must name its metric columns.

A flat ``[search.options]`` table (no sub-tables) is still read: it holds the options of
``[search] strategy``, and a different strategy chosen with ``--strategy`` runs without them (a
warning names the options dropped).
"""


from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from nago.errors import ConfigError
from nago.config.space import SearchSpace, read_toml
from nago.config.sections import (  # noqa: F401  (re-exported: the sections belong to a run file)
    DATASET_SHAPES,
    DataSection,
    EvaluateSection,
    ModelSection,
    SearchSection,
    _from_table,
)


_SECTIONS: dict[str, Any] = {
    "run": ("name", "space", "seed", "description"),
    "data": DataSection,
    "model": ModelSection,
    "train": None,  # validated by TrainConfig.from_dict when the objective is built
    "evaluate": EvaluateSection,
    "search": SearchSection,
}


@dataclass(frozen=True)
class RunConfig:
    """A parsed run file: ``[run]`` (name, space, seed, description) and one typed section per table.

    ``train`` stays the raw ``[train]`` table, checked by :class:`~nago.training.train.TrainConfig`
    when the objective is built.
    """

    name: str
    space: SearchSpace
    seed: int = 0
    description: str = ""
    data: DataSection = field(default_factory=DataSection)
    model: ModelSection = field(default_factory=ModelSection)
    train: dict[str, Any] = field(default_factory=dict)
    evaluate: EvaluateSection = field(default_factory=EvaluateSection)
    search: SearchSection = field(default_factory=SearchSection)
    source: Path | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], *, base: Path, where: str = "run config", source: Path | None = None) -> "RunConfig":
        raw = copy.deepcopy(dict(raw))
        unknown = set(raw) - set(_SECTIONS)
        if unknown:
            raise ConfigError(f"{where}: unknown section(s) {sorted(unknown)}; allowed: {sorted(_SECTIONS)}")
        for sec in _SECTIONS:
            if not isinstance(raw.get(sec, {}), dict):
                raise ConfigError(f"{where}: [{sec}] must be a table")
        run = raw.get("run", {})
        if set(run) - set(_SECTIONS["run"]):
            raise ConfigError(f"{where}: unknown key(s) {sorted(set(run) - set(_SECTIONS['run']))} in [run]; "
                              f"allowed: {sorted(_SECTIONS['run'])}")
        if "space" not in run:
            raise ConfigError(f"{where}: [run] needs 'space', the path of a space TOML (e.g. \"../spaces/hnag.toml\")")
        seed = run.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"{where}: [run] seed: got {seed!r}; allowed: an integer >= 0")
        space_path = Path(run["space"]).expanduser()
        if not space_path.is_absolute():
            space_path = base / space_path
        space = SearchSpace.from_toml(space_path)
        table = _table_search(space, raw, where) if space.is_table else {}
        try:
            sections = {
                "data": _from_table(DataSection, "data", raw.get("data", {}), [f.name for f in fields(DataSection)]),
                "model": _from_table(ModelSection, "model", raw.get("model", {}),
                                     [f.name for f in fields(ModelSection) if f.name != "param_limit_range"]),
                "evaluate": _from_table(EvaluateSection, "evaluate", raw.get("evaluate", {}),
                                        [f.name for f in fields(EvaluateSection)]),
                "search": SearchSection.from_dict(raw.get("search", {}), **table),
            }
        except ConfigError as e:
            raise ConfigError(f"{where}: {e}") from None
        searched = sections["model"].search_params()
        if searched:  # a searched budget is one more dimension of the run's space
            space = space.extend(searched, where=f"{where} [model]")
        return cls(
            name=str(run.get("name", source.stem if source else "run")),
            space=space,
            seed=seed,
            description=str(run.get("description", "")),
            train=raw.get("train", {}),
            source=source,
            **sections,
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> "RunConfig":
        path = Path(path)
        return cls.from_dict(read_toml(path), base=path.resolve().parent, where=str(path), source=path.resolve())

    def shape(self) -> tuple[int, int, int]:
        """``(in_channels, image_size, num_classes)`` expected from the run's dataset (no data read)."""
        return self.data.shape()


def _table_search(space: SearchSpace, raw: Mapping[str, Any], where: str) -> dict[str, tuple[str, ...]]:
    """A run on a table space: its metric columns and default objectives (the table's search metrics,
    with their directions), read from the space's ``[table]`` section. Sections that only configure
    training ([data], [model], [train], [evaluate]) would be ignored there, so they are refused.
    """
    unused = [sec for sec in ("data", "model", "train", "evaluate") if raw.get(sec)]
    if unused:
        raise ConfigError(f"{where}: [run] space {space.source or space.name} is a table space (kind = \"table\"): "
                          f"trials are looked up in its CSV, nothing is trained, so {', '.join(f'[{s}]' for s in unused)} "
                          "would be ignored; allowed: [run] and [search] only")
    section = space.sections.get("table")
    metrics = section.get("metrics") if isinstance(section, Mapping) else None
    if not isinstance(metrics, Mapping) or not metrics:
        raise ConfigError(f"{space.source or space.name}: a table space needs [table.metrics] "
                          "(COLUMN = \"max\" | \"min\") and [table] search; see nago.objectives.table")
    search = section.get("search", [])
    search = [search] if isinstance(search, str) else list(search) if isinstance(search, list) else []
    return {"metrics": tuple(metrics),
            "objectives": tuple(f"{name}:{metrics.get(name, 'max')}" for name in search) or None}


def is_run_file(path: str | Path) -> bool:
    """True if the TOML file is a run config (has a ``[run]`` table) rather than a space."""
    return "run" in read_toml(path)


def load_space_or_run(path: str | Path) -> tuple[SearchSpace, RunConfig | None]:
    """Read either kind of file; returns the space and, for a run file, the run config."""
    if is_run_file(path):
        rc = RunConfig.from_toml(path)
        return rc.space, rc
    return SearchSpace.from_toml(path), None


def build_objective(run: RunConfig, *, data_root: str | None = None, device: str | None = None,
                    samples: int | None = None, progress: bool | None = None, evaluate_test: bool = False):
    """The objective a run file describes (CLI flags override it): a
    :class:`~nago.objectives.network.TrainObjective`, or for a table space (``kind = "table"``) a
    :class:`~nago.objectives.table.TableObjective` on its CSV (the other arguments do not apply).

    Args:
        run: the run config.
        data_root, device, samples: override ``[data] root``, ``[evaluate] device`` and ``samples``.
        progress: override ``[train] progress``.
        evaluate_test: also measure ``test_acc`` / ``test_loss`` (``nago evaluate``, the final
            protocol); a search leaves it off and selects on validation only.

    ``latency_ms`` is measured when ``[search] objectives`` names it.
    """
    from nago.objectives.network import TrainObjective
    from nago.study.trial import parse_objectives
    from nago.training.train import TrainConfig

    if run.space.is_table:  # configs are looked up in the table's CSV: no data, nothing trained
        from nago.objectives.table import TableObjective, load_table

        return TableObjective(table=load_table(run.space))
    if not run.data.dataset:
        raise ConfigError("[data] needs 'dataset', e.g. dataset = \"digits\"")
    train = dict(run.train)
    if progress is not None:
        train["progress"] = progress
    return TrainObjective(
        data=run.data.dataset,
        data_options=run.data.load_options(data_root=data_root),
        train=TrainConfig.from_dict(train),
        model=run.model,
        samples=samples if samples is not None else run.evaluate.samples,
        device=device or run.evaluate.device,
        threads=run.evaluate.threads,
        evaluate_test=evaluate_test,
        latency="latency_ms" in {o.name for o in parse_objectives(list(run.search.objectives))},
    )


def build_executor(run: RunConfig, *, name: str | None = None, workers: int | None = None):
    """The executor a run file (or the CLI's ``--executor`` / ``--workers``) asks for."""
    from nago.study.executors import EXECUTORS

    name = name or run.search.executor
    cls = EXECUTORS.get(name)
    workers = workers if workers is not None else run.search.workers
    kwargs: dict[str, Any] = {}
    if name != "inline" and workers is not None:
        kwargs["slots"] = int(workers)
    elif name == "inline" and workers not in (None, 1):
        raise ConfigError(f"workers: got {workers!r} with the inline executor; use --executor local or ray for parallel trials")
    if name == "ray":
        kwargs["address"] = run.search.ray_address
        kwargs["num_gpus"] = 1 if _has_gpu() else 0
    return cls(**kwargs)


def _has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()
