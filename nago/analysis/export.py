"""Export a trial's generator and one network it generates: config JSON, ArchSpec JSON, TorchScript.

``nago export RUN_DIR --trial ID`` writes into ``RUN_DIR/export/trial-ID/`` (or ``--out``):

* ``generator.json``: the generator config, the trial's metrics, the network seed, whether the
  weights are trained (``"weights"``), the class names (``"classes"``, where the dataset has them)
  and the input the network expects (``"preprocessing"``: channels, image size, mean and std);
* ``arch.json``: the ArchSpec of the network (by default the trial's first sampled network, the one
  it trained as sample 0: its seed is re-derived from the trial seed);
* ``model.pt``: that network as TorchScript (traced in eval mode), loadable with plain
  ``torch.jit.load`` and no nago installed; it carries the same weights / classes / preprocessing
  record as the extra file ``nago.json`` (``torch.jit.load(path, _extra_files={"nago.json": ""})``).

**By default the weights are untrained**: the network seed's initial weights (those the trial's
training started from), since trials do not keep weights (the search trains many networks and keeps
their metrics only). ``generator.json`` then says ``"weights": "untrained"``. With ``epochs`` the
network is first trained on the run's data with the run's protocol and the trial's training seed,
and its validation and test metrics are recorded (``"weights": "trained"``).

The network takes float ``[B, C, H, W]`` images whose pixels are scaled to ``[0, 1]`` and then
normalised per channel as ``(x - mean) / std`` (the training pipeline's
:class:`~nago.training.data.augment.DeviceAugment`), at the exported image size.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch

from nago.errors import ConfigError, NagoError
from nago.study.runner import derive_seed
from nago.study.storage import TrialStore
from nago.study.study import STORE_FILE
from nago.study.trial import TrialState


UNTRAINED_NOTE = ("untrained: the network seed's initial weights (trials keep no weights); "
                  "pass epochs (nago export --epochs N) to train it on the run's data first")

PREPROCESSING = "float [B, C, H, W]; pixels scaled to [0, 1], then (x - mean) / std per channel"


def export_trial(run_dir: str | Path, trial_id: int, *, out: str | Path | None = None, seed: int | None = None,
                 epochs: float | None = None, data_root: str | None = None, device: str | None = None) -> dict[str, Any]:
    """Export trial ``trial_id`` of the study in ``run_dir``.

    Args:
        run_dir: the study's run directory.
        trial_id: a complete trial of the study.
        out: output folder (default ``run_dir/export/trial-<id>``).
        seed: network seed (default: the trial's first sampled network).
        epochs: train the network this many epochs first; ``None`` / 0 = export untrained weights.
        data_root, device: override the run file's ``[data] root`` and ``[evaluate] device`` (with ``epochs``).

    Returns:
        The paths (``dir``, ``generator``, ``arch``, ``model``) and what ``generator.json`` holds:
        ``weights`` (``"trained"`` or ``"untrained"``), ``trained`` (metrics or ``None``),
        ``classes``, ``preprocessing``, ``params``, ``input_shape``, ...
    """
    from nago.config.run import ModelSection
    from nago.generator.hnag import generate

    run_dir = Path(run_dir)
    if not (run_dir / STORE_FILE).is_file():
        raise NagoError(f"no study in {run_dir} (expected {run_dir / STORE_FILE})")
    with TrialStore(run_dir / STORE_FILE) as store:
        ids = [t.id for t in store.trials()]
        if trial_id not in ids:
            raise ConfigError(f"--trial: got {trial_id}; allowed: a trial id of this study ({min(ids, default=0)}..{max(ids, default=0)})")
        trial = store.get(trial_id)
        model_meta = store.get_meta("model") or {}
        data_meta = store.get_meta("data") or {}
        run_file = store.get_meta("run_file")
    if trial.state != TrialState.COMPLETE:
        raise ConfigError(f"trial {trial_id} is {trial.state.value}; allowed: a complete trial")
    net_seed = derive_seed(trial.seed, 0, 0) if seed is None else int(seed)

    model_meta_section = ModelSection(**{key: model_meta[key] for key in ("param_limit", "head_width", "dropout")
                                         if key in model_meta})
    model, generator_config = model_meta_section.split(trial.config)  # a searched budget is the model's
    spec = generate(generator_config, net_seed)
    c, size, k = (int(model_meta.get(key, d)) for key, d in (("in_channels", 3), ("image_size", 32), ("num_classes", 10)))
    trained: dict[str, float] = {}
    if epochs:
        from nago.config.run import RunConfig, build_objective
        from nago.training.train import resolve_device, train_network
        import dataclasses

        if not run_file or not Path(run_file).is_file():
            raise NagoError(f"--epochs needs the study's run file to train, but {run_file!r} is gone")
        objective = build_objective(RunConfig.from_toml(run_file), data_root=data_root, device=device)
        _, net = objective.build(trial.config, net_seed)
        data = objective.load_data()
        dev = resolve_device(objective.device)
        result = train_network(net.to(dev), data, config=dataclasses.replace(objective.train, epochs=float(epochs)),
                               seed=derive_seed(trial.seed, 0, 1), device=dev, evaluate_test=True)
        net = net.cpu()
        trained = result.metrics
        c, size, k = data.in_channels, data.image_size, data.num_classes
        data_meta = {"dataset": data.name, "mean": list(data.mean), "std": list(data.std),
                     "classes": list(data.info.get("classes") or []) or None}
    else:  # the initial weights sample 0 of the trial started from
        net = model.build(spec, in_channels=c, image_size=size, num_classes=k, seed=net_seed)
    out_dir = Path(out) if out is not None else run_dir / "export" / f"trial-{trial_id}"
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "weights": "trained" if trained else "untrained",
        "weights_note": (f"trained {epochs:g} epochs on {data_meta.get('dataset')} with the run's protocol"
                         if trained else UNTRAINED_NOTE),
        "classes": data_meta.get("classes"),
        "num_classes": k,
        "input_shape": [c, size, size],
        "preprocessing": {"channels": c, "image_size": size, "mean": data_meta.get("mean"), "std": data_meta.get("std"),
                          "input": PREPROCESSING, "dataset": data_meta.get("dataset")},
    }
    info = {"trial": trial_id, "config": trial.config, "metrics": trial.metrics, "network_seed": net_seed,
            "fingerprint": spec.fingerprint, "params": net.info["params"], "trained": trained or None, **record}
    (out_dir / "generator.json").write_text(json.dumps(info, indent=2, sort_keys=True))
    (out_dir / "arch.json").write_text(spec.to_json(indent=2))
    net.eval()
    with torch.no_grad(), warnings.catch_warnings():
        # TorchScript is deprecated upstream but still the format plain `torch.jit.load` reads; the
        # shape checks the tracer warns about are constants for this fixed input size.
        warnings.simplefilter("ignore")
        scripted = torch.jit.trace(net, torch.zeros(1, c, size, size))
    extra = {"trial": trial_id, "fingerprint": spec.fingerprint, "network_seed": net_seed, **record}
    scripted.save(str(out_dir / "model.pt"), _extra_files={"nago.json": json.dumps(extra, sort_keys=True)})
    return {"dir": out_dir, "generator": out_dir / "generator.json", "arch": out_dir / "arch.json",
            "model": out_dir / "model.pt", **info}
