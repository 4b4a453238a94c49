"""Export a trial's generator and one network it generates: config JSON, ArchSpec JSON, TorchScript.

``nago export RUN_DIR --trial ID`` writes into ``RUN_DIR/export/trial-ID/`` (or ``--out``):

* ``generator.json``: the generator config, the trial's metrics, the network seed;
* ``arch.json``: the ArchSpec of the network (by default the trial's first sampled network, the one
  it trained as sample 0: its seed is re-derived from the trial seed);
* ``model.pt``: that network as TorchScript (traced in eval mode), loadable with plain
  ``torch.jit.load`` and no nago installed. The weights are the network seed's initial weights (those
  the trial's training started from) unless ``epochs`` is given, in which case the network is first
  trained on the run's data with the run's protocol and the trial's training seed (trials do not
  keep weights: the search trains many networks and keeps their metrics only).
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


def export_trial(run_dir: str | Path, trial_id: int, *, out: str | Path | None = None, seed: int | None = None,
                 epochs: float | None = None, data_root: str | None = None, device: str | None = None) -> dict[str, Any]:
    """Export trial ``trial_id`` of the study in ``run_dir``; returns the paths and the network's summary."""
    from nago.generator.hnag import generate
    from nago.generator.model import build_model

    run_dir = Path(run_dir)
    if not (run_dir / STORE_FILE).is_file():
        raise NagoError(f"no study in {run_dir} (expected {run_dir / STORE_FILE})")
    with TrialStore(run_dir / STORE_FILE) as store:
        ids = [t.id for t in store.trials()]
        if trial_id not in ids:
            raise ConfigError(f"--trial: got {trial_id}; allowed: a trial id of this study ({min(ids, default=0)}..{max(ids, default=0)})")
        trial = store.get(trial_id)
        model_meta = store.get_meta("model") or {}
        run_file = store.get_meta("run_file")
    if trial.state != TrialState.COMPLETE:
        raise ConfigError(f"trial {trial_id} is {trial.state.value}; allowed: a complete trial")
    net_seed = derive_seed(trial.seed, 0, 0) if seed is None else int(seed)
    spec = generate(trial.config, net_seed)
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
        dev = resolve_device(objective.device)
        result = train_network(net.to(dev), objective.load_data(), config=dataclasses.replace(objective.train, epochs=float(epochs)),
                               seed=derive_seed(trial.seed, 0, 1), device=dev)
        net = net.cpu()
        trained = result.metrics
    else:
        with torch.random.fork_rng(devices=[]):  # the initial weights sample 0 of the trial started from
            torch.manual_seed(net_seed)
            net = build_model(spec, in_channels=c, image_size=size, num_classes=k,
                              param_limit=float(model_meta.get("param_limit", 4e6)),
                              head_width=int(model_meta.get("head_width", 1280)), dropout=float(model_meta.get("dropout", 0.2)))
    out_dir = Path(out) if out is not None else run_dir / "export" / f"trial-{trial_id}"
    out_dir.mkdir(parents=True, exist_ok=True)
    info = {"trial": trial_id, "config": trial.config, "metrics": trial.metrics, "network_seed": net_seed,
            "fingerprint": spec.fingerprint, "input_shape": [c, size, size], "num_classes": k,
            "params": net.info["params"], "trained": trained or None}
    (out_dir / "generator.json").write_text(json.dumps(info, indent=2, sort_keys=True))
    (out_dir / "arch.json").write_text(spec.to_json(indent=2))
    net.eval()
    with torch.no_grad(), warnings.catch_warnings():
        # TorchScript is deprecated upstream but still the format plain `torch.jit.load` reads; the
        # shape checks the tracer warns about are constants for this fixed input size.
        warnings.simplefilter("ignore")
        scripted = torch.jit.trace(net, torch.zeros(1, c, size, size))
    scripted.save(str(out_dir / "model.pt"))
    return {"dir": out_dir, "generator": out_dir / "generator.json", "arch": out_dir / "arch.json",
            "model": out_dir / "model.pt", **info}
