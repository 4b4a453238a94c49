"""Run configs (``runs/*.toml``): which space, which data, which model budget, how to train and search.

::

    [run]
    name = "digits"
    space = "../spaces/hnag.toml"     # relative to this file, or absolute
    seed = 0

    [data]                             # nago.training.data.load_dataset arguments
    dataset = "digits"
    root = "~/data/cifar"              # optional; --data-root overrides
    image_size = 8                     # optional; the dataset's native size otherwise
    val_fraction = 0.1
    max_train = 0                      # optional; 0 = all

    [model]                            # nago.generator.model.build_model arguments
    param_limit = 4e6
    head_width = 1280
    dropout = 0.2

    [train]                            # nago.training.train.TrainConfig (+ [train.augment])
    epochs = 60
    ...

    [evaluate]
    samples = 1                        # networks sampled per generator config
    device = "auto"
    threads = 0                        # CPU threads for torch (0 = torch's default)

    [search]
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
    [search.options]                   # strategy-specific options

Unknown sections or keys are errors that list what is allowed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from nago.errors import ConfigError
from nago.config.space import SearchSpace, read_toml

_SECTIONS: dict[str, set[str]] = {
    "run": {"name", "space", "seed", "description"},
    "data": {"dataset", "root", "image_size", "val_fraction", "max_train", "cache_dir"},
    "model": {"param_limit", "head_width", "dropout"},
    "train": None,  # validated by TrainConfig.from_dict
    "evaluate": {"samples", "device", "threads"},
    "search": {"strategy", "trials", "objectives", "batch", "time_limit_s", "options", "fidelity", "ref_point",
               "executor", "workers", "ray_address"},
}

# (in_channels, native image size, classes): lets `nago sample` size a network without the data.
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


@dataclass
class RunConfig:
    """A parsed run file. Sections are plain dicts checked for unknown keys."""

    name: str
    space: SearchSpace
    seed: int = 0
    data: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    evaluate: dict[str, Any] = field(default_factory=dict)
    search: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], *, base: Path, where: str = "run config", source: Path | None = None) -> "RunConfig":
        raw = copy.deepcopy(dict(raw))
        unknown = set(raw) - set(_SECTIONS)
        if unknown:
            raise ConfigError(f"{where}: unknown section(s) {sorted(unknown)}; allowed: {sorted(_SECTIONS)}")
        for sec, keys in _SECTIONS.items():
            val = raw.get(sec, {})
            if not isinstance(val, dict):
                raise ConfigError(f"{where}: [{sec}] must be a table")
            if keys is not None and set(val) - keys:
                raise ConfigError(f"{where}: unknown key(s) {sorted(set(val) - keys)} in [{sec}]; allowed: {sorted(keys)}")
        run = raw.get("run", {})
        if "space" not in run:
            raise ConfigError(f"{where}: [run] needs 'space', the path of a space TOML (e.g. \"../spaces/hnag.toml\")")
        space_path = Path(run["space"]).expanduser()
        if not space_path.is_absolute():
            space_path = base / space_path
        seed = run.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"{where}: [run] seed: got {seed!r}; allowed: an integer >= 0")
        return cls(
            name=str(run.get("name", source.stem if source else "run")),
            space=SearchSpace.from_toml(space_path),
            seed=seed,
            data=raw.get("data", {}),
            model=raw.get("model", {}),
            train=raw.get("train", {}),
            evaluate=raw.get("evaluate", {}),
            search=raw.get("search", {}),
            source=source,
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> "RunConfig":
        path = Path(path)
        return cls.from_dict(read_toml(path), base=path.resolve().parent, where=str(path), source=path.resolve())

    def shape(self) -> tuple[int, int, int]:
        """``(in_channels, image_size, num_classes)`` expected from the run's dataset (no data read)."""
        ds = self.data.get("dataset", "cifar10")
        c, size, k = DATASET_SHAPES.get(ds, (3, 32, 10))
        return c, int(self.data.get("image_size") or size), k


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
                    samples: int | None = None, progress: bool | None = None):
    """The :class:`~nago.objectives.network.TrainObjective` a run file describes (CLI flags override it)."""
    from nago.objectives.network import TrainObjective
    from nago.training.train import TrainConfig

    data = dict(run.data)
    name = data.pop("dataset", None)
    if not name:
        raise ConfigError("[data] needs 'dataset', e.g. dataset = \"digits\"")
    if data_root is not None:
        data["root"] = data_root
    if "root" in data:
        data["root"] = str(Path(data["root"]).expanduser()) if data["root"] else None
    if not data.get("max_train"):
        data.pop("max_train", None)  # 0 / absent = all training images
    train = dict(run.train)
    if progress is not None:
        train["progress"] = progress
    model = run.model
    return TrainObjective(
        data=name,
        data_options=data,
        train=TrainConfig.from_dict(train),
        param_limit=float(model.get("param_limit", 4e6)),
        head_width=int(model.get("head_width", 1280)),
        dropout=float(model.get("dropout", 0.2)),
        samples=int(samples if samples is not None else run.evaluate.get("samples", 1)),
        device=device or run.evaluate.get("device", "auto"),
        threads=int(run.evaluate.get("threads", 0)),
    )


def build_executor(run: RunConfig, *, name: str | None = None, workers: int | None = None):
    """The executor a run file (or the CLI's ``--executor`` / ``--workers``) asks for."""
    from nago.study.executors import EXECUTORS

    name = name or run.search.get("executor", "inline")
    cls = EXECUTORS.get(name)
    workers = workers if workers is not None else run.search.get("workers")
    kwargs: dict[str, Any] = {}
    if name != "inline" and workers is not None:
        kwargs["slots"] = int(workers)
    elif name == "inline" and workers not in (None, 1):
        raise ConfigError(f"workers: got {workers!r} with the inline executor; use --executor local or ray for parallel trials")
    if name == "ray":
        kwargs["address"] = run.search.get("ray_address")
        kwargs["num_gpus"] = 1 if _has_gpu() else 0
    return cls(**kwargs)


def _has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()
