"""nago: neural architecture generator search.

The Python API mirrors the CLI::

    import nago
    study = nago.study_from_run("runs/digits.toml", out="runs/out/demo")
    study.optimize(n_trials=8)
    for t in study.pareto_front():
        print(t.id, t.metrics["val_acc"], t.metrics["memory_mb"], t.config)
    study.report()
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "Study": "nago.study.study", "study_from_run": "nago.study.from_run", "SearchSpace": "nago.config.space", "RunConfig": "nago.config.run",
    "generate": "nago.generator.hnag", "build_model": "nago.generator.model", "profile": "nago.generator.profile", "ArchSpec": "nago.generator.spec",
    "TrainObjective": "nago.objectives.network", "load_dataset": "nago.training.data", "export_trial": "nago.analysis.export",
    "write_report": "nago.analysis.report", "STRATEGIES": "nago.strategies", "NagoError": "nago.errors", "ConfigError": "nago.errors",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'nago' has no attribute {name!r}")
