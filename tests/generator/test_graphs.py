from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from nago.errors import ConfigError
from nago.generator.graphs import DAG, join_components, sample_dag


@pytest.mark.parametrize("model", ["ws", "er", "ba", "chain"])
@pytest.mark.parametrize("n", [1, 2, 3, 7, 10])
def test_dags_are_index_ordered_and_connected(model, n):
    rng = np.random.default_rng(0)
    for _ in range(20):
        dag = sample_dag(model, n, rng=rng, k=4, p=0.15, m=2)
        assert dag.n == n
        assert all(all(j < i for j in p) for i, p in enumerate(dag.preds))
        g = nx.Graph()
        g.add_nodes_from(range(n))
        g.add_edges_from((j, i) for i, p in enumerate(dag.preds) for j in p)
        assert nx.is_connected(g)
        assert dag.inputs[0] == 0 and dag.outputs[-1] == n - 1


def test_single_node_is_input_and_output():
    dag = sample_dag("er", 1, rng=np.random.default_rng(0), p=0.5)
    assert dag.inputs == (0,) and dag.outputs == (0,)


def test_join_components_adds_one_edge_per_extra_component():
    g = nx.Graph()
    g.add_nodes_from(range(6))
    g.add_edges_from([(0, 3), (1, 4)])  # components {0,3} {1,4} {2} {5}
    joined = join_components(g)
    assert nx.is_connected(joined)
    assert joined.number_of_edges() == 2 + 3
    assert {(3, 1), (4, 2), (2, 5)} <= {tuple(e) for e in joined.edges()} | {tuple(reversed(e)) for e in joined.edges()}
    assert g.number_of_edges() == 2  # input untouched


def test_low_p_er_never_crashes():
    """The original code crashed on ~7% of configs from disconnected ER graphs with small P."""
    rng = np.random.default_rng(1)
    for _ in range(300):
        n = int(rng.integers(1, 11))
        dag = sample_dag("er", n, rng=rng, p=0.1)
        g = nx.Graph()
        g.add_nodes_from(range(n))
        g.add_edges_from((j, i) for i, p in enumerate(dag.preds) for j in p)
        assert dag.n == n and nx.is_connected(g)  # the documented repair: one connected DAG, never a crash
        assert all(all(j < i for j in p) for i, p in enumerate(dag.preds))


def test_k_is_clipped():
    dag = sample_dag("ws", 3, rng=np.random.default_rng(0), k=5, p=0.0)
    assert dag.preds == ((), (0,), (0, 1))  # the triangle of research/nago.md §2.4


def test_bad_graph_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ConfigError, match="unknown graph model 'xx'"):
        sample_dag("xx", 4, rng=rng)
    with pytest.raises(ConfigError, match=">= 1"):
        sample_dag("ws", 0, rng=rng)
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        sample_dag("er", 4, rng=rng, p=1.5)


def test_dag_outputs_by_id():
    dag = DAG(((), (), (0,), (1,)))
    assert dag.inputs == (0, 1) and dag.outputs == (2, 3) and dag.num_edges == 2
