"""NAS-Bench-201 knowledge in one torch-free module (nago.benchmarks.nb201) and the network (nb201_net)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from nago.benchmarks import nb201
from nago.benchmarks.nb201_net import Cell
from nago.config.space import SearchSpace
from nago.errors import ConfigError

from _paths import SPACES


def _modules_after(code: str) -> set[str]:
    """The module names in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", f"import sys\n{code}\nprint(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_nb201_knowledge_does_not_import_torch():
    loaded = _modules_after("import nago.benchmarks.nb201 as m\nm.path_features(list(m.OPS) + ['none'])")
    assert "nago.benchmarks.nb201" in loaded and "torch" not in loaded


def test_generic_code_does_not_import_the_nb201_network():
    loaded = _modules_after("import nago.strategies.mobo, nago.strategies.nao, nago.strategies._features, nago.nao.encoding")
    assert "nago.benchmarks.nb201" in loaded and "nago.benchmarks.nb201_net" not in loaded


def test_one_edge_list():
    assert nb201.EDGES == ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))  # (from, to), arch-string order
    assert all(a < b for a, b in nb201.EDGES) and nb201.EDGE_NAMES == ("e0", "e1", "e2", "e3", "e4", "e5")
    import nago.nao.encoding as encoding

    assert not hasattr(encoding, "NB201_EDGES")  # the encoding uses nb201.EDGES, no copy
    # the arch string lists, for node i, its incoming edges from node 0, 1, ..: EDGES in that order
    ops = [f"op{k}" for k in range(6)]
    assert nb201.arch_string(ops) == "|op0~0|+|op1~0|op2~1|+|op3~0|op4~1|op5~2|"
    arch = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
    assert nb201.arch_string(nb201.parse_arch(arch)) == arch


def test_paths_and_op_nodes_follow_the_edges():
    assert nb201.PATHS == ((3,), (0, 4), (1, 5), (0, 2, 5))
    for path in nb201.PATHS:  # each path is a chain 0 -> ... -> 3 of EDGES
        nodes = [nb201.EDGES[path[0]][0]] + [nb201.EDGES[e][1] for e in path]
        assert nodes[0] == 0 and nodes[-1] == 3
        assert all(nb201.EDGES[e][0] == n for e, n in zip(path, nodes))
    assert set(nb201.OP_NODE_EDGES) == {(0, 1), (0, 2), (0, 4), (1, 3), (1, 5), (2, 6), (3, 6), (4, 7), (5, 7), (6, 7)}


def test_one_rule_for_nb201_spaces():
    space = SearchSpace.from_toml(SPACES / "nb201.toml")
    assert nb201.cell_choices(space) == nb201.OPS and nb201.is_nb201_space(space)
    cell = lambda names, choices: SearchSpace.from_dict(  # noqa: E731
        {"params": {n: {"type": "categorical", "choices": list(choices)} for n in names}})
    other_ops = cell(nb201.EDGE_NAMES, ["a", "b", "c"])
    assert nb201.cell_choices(other_ops) == ("a", "b", "c") and not nb201.is_nb201_space(other_ops)
    assert nb201.cell_choices(cell([f"x{i}" for i in range(6)], nb201.OPS)) is None  # names say which edge
    assert nb201.cell_choices(cell(nb201.EDGE_NAMES[:5], nb201.OPS)) is None
    assert nb201.cell_choices(SearchSpace.from_toml(SPACES / "hnag.toml")) is None
    mixed = SearchSpace.from_dict({"params": {n: {"type": "categorical", "choices": list(nb201.OPS[: 5 - (n == "e5")])}
                                              for n in nb201.EDGE_NAMES}})
    assert nb201.cell_choices(mixed) is None  # one shared op set


def test_cell_network_reads_the_edges_from_to():
    pool = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    x = torch.randn(2, 4, 6, 6)
    N, S, P = "none", "skip_connect", "avg_pool_3x3"
    for ops in ([P, N, N, N, S, N],   # 0 -pool-> 1 -skip-> 3
                [N, S, N, N, N, P],   # 0 -skip-> 2 -pool-> 3
                [S, N, P, N, N, S],   # 0 -skip-> 1 -pool-> 2 -skip-> 3
                [N, N, N, P, N, N]):  # 0 -pool-> 3
        assert torch.allclose(Cell(ops, 4)(x), pool(x)), ops
    assert torch.allclose(Cell([S, N, N, N, N, S], 4)(x), torch.zeros_like(x))  # 0 -> 1, but 2 -> 3 carries nothing


@pytest.mark.parametrize("ops", [["none"] * 5, ["conv"] * 6])
def test_path_features_reject_bad_ops(ops):
    with pytest.raises(ConfigError, match="six of none"):
        nb201.path_features(ops)
