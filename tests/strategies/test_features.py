import warnings

import pytest
import torch

from _paths import SPACES
from nago.errors import ConfigError
from nago.benchmarks.nb201 import OPS, PATH_SEQUENCES, path_features
from nago.config.space import SearchSpace
from nago.strategies._features import GP_FEATURES, FeatureKernel
from nago.strategies.mobo import MOBO
from nago.objectives.table import load_table_space
from nago.study.trial import Trial, TrialState
from nago.warnings import SurrogateFallbackWarning

NONE, SKIP, C1, C3, POOL = OPS


def cell(e0=NONE, e1=NONE, e2=NONE, e3=NONE, e4=NONE, e5=NONE):
    return {"e0": e0, "e1": e1, "e2": e2, "e3": e3, "e4": e4, "e5": e5}


def test_path_features_contract_skips_and_drop_dead_paths():
    assert len(PATH_SEQUENCES) == 40 and PATH_SEQUENCES[0] == ()
    assert path_features([NONE] * 6) == [0] * 40  # no path reaches the output
    direct, chain = path_features([NONE, NONE, NONE, SKIP, NONE, NONE]), path_features([SKIP, NONE, NONE, NONE, SKIP, NONE])
    assert direct == chain and direct[0] == 1 and sum(direct) == 1  # both: one identity path
    optimum = path_features([C3, C3, C3, SKIP, C3, C1])
    on = {PATH_SEQUENCES[i]: n for i, n in enumerate(optimum) if n}
    assert on == {(): 1, (C3, C3): 1, (C3, C1): 1, (C3, C3, C1): 1}
    with pytest.raises(ConfigError, match="six of none"):
        path_features([C3] * 5)


def test_nb201_paths_map_and_kernel():
    space, _ = load_table_space(SPACES / "nb201.toml")
    f = GP_FEATURES.get("nb201-paths")(space)
    X = space.to_unit([cell(e3=SKIP), cell(e0=SKIP, e4=SKIP), cell(e3=C3)])
    F = f(X)
    assert F.shape == (3, 40) and F.dtype == torch.float64 and f(X.unsqueeze(0)).shape == (1, 3, 40)
    assert torch.equal(F[0], F[1]) and not torch.equal(F[0], F[2])
    K = FeatureKernel(f)(X).to_dense().detach()
    assert K[0, 1].item() == pytest.approx(1.0) and K[0, 2].item() < 1.0  # same paths, same cell to the GP


def test_nb201_paths_needs_the_nb201_edges():
    space = SearchSpace.from_dict({"params": {"a": {"type": "categorical", "choices": ["x", "y"]}}})
    with pytest.raises(ConfigError, match="must have 6 categorical parameters e0, e1, e2, e3, e4, e5"):
        GP_FEATURES.get("nb201-paths")(space)
    nb201, _ = load_table_space(SPACES / "nb201.toml")
    data = {"params": {p.name: {"type": "categorical", "choices": list(p.choices)} for p in nb201.searchable}}
    renamed = SearchSpace.from_dict({"params": {f"edge{k}": v for k, v in enumerate(data["params"].values())}})
    other_ops = SearchSpace.from_dict({"params": {k: {**v, "choices": list(v["choices"])[:4]} for k, v in data["params"].items()}})
    for bad in (renamed, other_ops):  # the same rule as the graph view (nago.benchmarks.nb201.is_nb201_space)
        with pytest.raises(ConfigError, match="must have 6 categorical parameters"):
            GP_FEATURES.get("nb201-paths")(bad)
    with pytest.raises(ConfigError, match="unknown GP feature map 'paths'; allowed: nb201-paths"):
        GP_FEATURES.get("paths")


def test_mobo_with_path_features_on_the_table():
    space, table = load_table_space(SPACES / "nb201.toml")
    s = MOBO(space=space, objectives=table.search, seed=0, n_init=6, features="nb201-paths")
    told = []
    for i, p in enumerate(s.ask(6)):
        told.append(Trial(id=i + 1, config=p.config, seed=0, state=TrialState.COMPLETE, metrics=table.metrics_of(table.row(p.config))))
    s.tell(told)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SurrogateFallbackWarning)
        (p,) = s.ask(1)
    assert p.info["source"] == "qlognei" and space.key(p.config) not in {space.key(t.config) for t in told}
