"""Token codec (configs <-> tokens both ways, per-position vocabularies) and the graph views."""

from __future__ import annotations

import itertools

import pytest
import torch

from nago.errors import ConfigError
from nago.nao.encoding import SOS, TokenCodec, graph_view, nb201_dag, nb201_graph
from nago.benchmarks.nb201 import OPS
from nago.config.space import SearchSpace

from _paths import SPACES

MIXED = SearchSpace.from_dict({"params": {
    "x": {"type": "float", "low": -1.0, "high": 1.0},
    "lr": {"type": "float", "low": 1e-3, "high": 1.0, "log": True},
    "n": {"type": "int", "low": 1, "high": 4},
    "big": {"type": "int", "low": 0, "high": 99},
    "c": {"type": "categorical", "choices": ["a", "b", "c"]},
    "fixed": {"type": "fixed", "value": 7},
}})


def test_vocabularies_and_mask():
    codec = TokenCodec(space=MIXED, bins=8)
    assert codec.length == 5 and codec.sizes == (8, 8, 4, 8, 3)  # fixed skipped; big int binned
    assert codec.offsets == (1, 9, 17, 21, 29) and codec.vocab_size == 32
    mask = codec.mask()
    assert mask.shape == (5, 32) and not mask[:, SOS].any() and (mask.sum(dim=0)[1:] == 1).all()
    assert mask.sum(dim=1).tolist() == [8, 8, 4, 8, 3]


def test_round_trip_exact_for_discrete_and_binned_for_floats():
    codec = TokenCodec(space=MIXED, bins=8)
    configs = MIXED.sample(0, 50)
    tokens = codec.encode(configs)
    assert tokens.shape == (50, 5) and codec.mask()[torch.arange(5), tokens].all()
    back = codec.decode(tokens)
    assert torch.equal(codec.encode(back), tokens)  # tokens -> config -> tokens is exact
    for c, b in zip(configs, back):
        assert b["n"] == c["n"] and b["c"] == c["c"] and b["fixed"] == 7
        assert abs(b["x"] - c["x"]) <= 2.0 / 8 / 2 + 1e-9  # within half a bin of [-1, 1]
        assert abs(b["big"] - c["big"]) <= 100 / 8
    # log float: bins are equal in log space, so the bin centres are geometric
    lr_bins = sorted({c["lr"] for c in codec.decode(torch.tensor([[1, 9 + i, 17, 21, 29] for i in range(8)]))})
    ratios = [b / a for a, b in zip(lr_bins, lr_bins[1:])]
    assert max(ratios) == pytest.approx(min(ratios))


def test_nb201_space_round_trips_every_config():
    space = SearchSpace.from_toml(SPACES / "nb201.toml")
    codec = TokenCodec(space=space)
    configs = [dict(zip(space.names, v)) for v in itertools.product(*[p.choices for p in space.searchable])]
    tokens = codec.encode(configs)
    assert tokens.shape == (15625, 6) and codec.vocab_size == 31
    assert codec.decode(tokens) == [space.validate(c) for c in configs]


def test_invalid_tokens_and_options_are_config_errors():
    codec = TokenCodec(space=MIXED)
    with pytest.raises(ConfigError, match="position 0"):
        codec.decode(torch.tensor([[0, 17, 33, 37, 53]]))
    with pytest.raises(ConfigError, match="bins"):
        TokenCodec(space=MIXED, bins=1)


def test_nb201_graph_is_the_op_on_node_dag():
    g = nb201_graph(OPS)
    edges = {(int(i), int(j)) for i, j in g.adjacency.nonzero()}
    # op nodes 1..6 are edges (0,1) (0,2) (1,2) (0,3) (1,3) (2,3); node 7 is the output
    assert edges == {(0, 1), (0, 2), (0, 4), (1, 3), (1, 5), (2, 6), (3, 6), (4, 7), (5, 7), (6, 7)}
    adj, feats = nb201_dag(["nor_conv_3x3", "none", "skip_connect", "avg_pool_3x3", "nor_conv_1x1", "none"], OPS)
    assert adj.shape == (8, 8) and feats.shape == (8, 7)
    assert feats[0, 0] == 1 and feats[7, 1] == 1 and feats[1, 2 + OPS.index("nor_conv_3x3")] == 1
    assert (feats.sum(dim=1) == 1).all()
    assert graph_view(SearchSpace.from_toml(SPACES / "nb201.toml")) is not None
    assert graph_view(MIXED) is None and graph_view(SearchSpace.from_toml(SPACES / "hnag.toml")) is None

    renamed = SearchSpace.from_dict({"params": {f"x{i}": {"type": "categorical", "choices": list(OPS)} for i in range(6)}})
    assert graph_view(renamed) is None  # the rule of nago.benchmarks.nb201.cell_choices: names e0..e5
