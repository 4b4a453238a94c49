"""The Hierarchical Neural Architecture Generator: ``(config, seed) -> ArchSpec``, deterministic.

A config names one random-graph model per level and its parameters (``research/nago.md`` §2–§3):

============  =========================================  ==================================
level         graph model (``G_*``)                      parameters
============  =========================================  ==================================
top (cells)   ``G_t`` (default ``"ws"``)                 ``N_t``, and ``K_t``/``P_t``/``M_t``
mid (modules) ``G_m`` (default ``"er"``)                 ``N_m``, and ``K_m``/``P_m``/``M_m``
bottom (ops)  ``G_b`` (default ``"ws"``)                 ``N_b``, and ``K_b``/``P_b``/``M_b``
============  =========================================  ==================================

WS needs ``N, K, P``; ER needs ``N, P``; BA needs ``N, M``; ``chain`` needs ``N``. Further keys:
stage ratios ``S_1, S_2, S_3`` (normalised; default 1/3 each), channel ratios ``C_1, C_2, C_3``
(default 1, 2, 4), ``op`` (default ``"conv3x3"``; ``"mixed"`` draws each node's op uniformly from
:data:`MIXED_OPS`) and ``merge`` (``"sum"`` or ``"cat"``).

Every node at every level gets a freshly sampled graph (the original code's same-seed bug, which
made every cell identical, is not copied). All randomness comes from one
``numpy.random.default_rng(seed)`` consumed in a fixed order: the top graph, then per cell its mid
graph, then per module its bottom graph and its ops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from nago.errors import ConfigError
from nago.generator.graphs import GRAPH_MODELS, sample_dag
from nago.generator.spec import MERGES, ArchSpec, Graph, Node

OPS = ("conv3x3", "conv5x5", "conv1x1", "sepconv3x3", "sepconv5x5")
MIXED_OPS = ("conv3x3", "conv5x5", "sepconv3x3", "sepconv5x5")
LEVELS = ("t", "m", "b")
_NEEDS = {"ws": ("N", "K", "P"), "er": ("N", "P"), "ba": ("N", "M"), "chain": ("N",)}
_DEFAULT_MODEL = {"t": "ws", "m": "er", "b": "ws"}
_LEVEL_NAME = {"t": "top", "m": "mid", "b": "bottom"}
KNOWN_KEYS = frozenset(
    [f"{p}_{lv}" for lv in LEVELS for p in ("G", "N", "K", "P", "M")]
    + ["S_1", "S_2", "S_3", "C_1", "C_2", "C_3", "op", "merge"]
)


@dataclass(frozen=True)
class LevelParams:
    """Graph model and parameters of one level."""

    model: str
    n: int
    k: int = 4
    p: float = 0.5
    m: int = 2


@dataclass(frozen=True)
class HNAGParams:
    """A validated generator config."""

    top: LevelParams
    mid: LevelParams
    bottom: LevelParams
    stage_ratios: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3)
    channel_ratios: tuple[float, float, float] = (1.0, 2.0, 4.0)
    op: str = "conv3x3"
    merge: str = "sum"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "HNAGParams":
        """Read a config dict; raise :class:`ConfigError` naming any missing, unknown or bad key."""
        unknown = sorted(set(config) - KNOWN_KEYS)
        if unknown:
            raise ConfigError(f"unknown generator parameter(s) {unknown}; known: {sorted(KNOWN_KEYS)}")
        levels = [_level(config, lv) for lv in LEVELS]
        stage = tuple(_positive(config, f"S_{i}", 1 / 3) for i in (1, 2, 3))
        total = sum(stage)
        chans = tuple(_positive(config, f"C_{i}", float(2 ** (i - 1))) for i in (1, 2, 3))
        op = config.get("op", "conv3x3")
        if op not in OPS and op != "mixed":
            raise ConfigError(f"parameter 'op': got {op!r}; allowed: {', '.join(OPS + ('mixed',))}")
        merge = config.get("merge", "sum")
        if merge not in MERGES:
            raise ConfigError(f"parameter 'merge': got {merge!r}; allowed: {', '.join(MERGES)}")
        return cls(*levels, tuple(s / total for s in stage), chans, op, merge)  # type: ignore[arg-type]


def _positive(config: Mapping[str, Any], key: str, default: float) -> float:
    v = config.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not v > 0:
        raise ConfigError(f"parameter {key!r}: got {v!r}; allowed: a number > 0")
    return float(v)


def _level(config: Mapping[str, Any], lv: str) -> LevelParams:
    model = config.get(f"G_{lv}", _DEFAULT_MODEL[lv])
    if model not in _NEEDS:
        raise ConfigError(f"parameter 'G_{lv}': got {model!r}; allowed: {', '.join(GRAPH_MODELS.names())}")
    values: dict[str, Any] = {}
    for p in _NEEDS[model]:
        key = f"{p}_{lv}"
        if key not in config:
            raise ConfigError(
                f"parameter {key!r} is missing: the {_LEVEL_NAME[lv]} level's graph model {model!r} "
                f"needs {', '.join(f'{q}_{lv}' for q in _NEEDS[model])}"
            )
        v = config[key]
        if p == "P":
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not 0 <= v <= 1:
                raise ConfigError(f"parameter {key!r}: got {v!r}; allowed: a probability in [0, 1]")
            values[p.lower()] = float(v)
        else:
            lo = 1 if p in ("N", "M") else 0
            if isinstance(v, bool) or not float(v).is_integer() or int(v) < lo:
                raise ConfigError(f"parameter {key!r}: got {v!r}; allowed: an integer >= {lo}")
            values[p.lower()] = int(v)
    return LevelParams(model=model, **values)


def stage_list(n: int, ratios: tuple[float, ...]) -> tuple[int, ...]:
    """Stage of each of ``n`` top-level nodes for normalised ``ratios``.

    Node ``x`` goes to the first stage ``s`` with ``x < n * (r_0 + ... + r_s)``; e.g. ``n=8`` with
    ratios 1/3 gives ``(0,0,0,1,1,1,2,2)``. Non-decreasing in ``x``.
    """
    bounds = np.cumsum(ratios) * n
    bounds[-1] = n
    return tuple(int(np.searchsorted(bounds - 1e-9, x, side="right")) for x in range(n))


def _graph(level: LevelParams, rng: np.random.Generator, make_node) -> Graph:
    dag = sample_dag(level.model, level.n, rng=rng, k=level.k, p=level.p, m=level.m)
    return Graph(tuple(make_node(preds) for preds in dag.preds))


def generate(config: Mapping[str, Any], seed: int) -> ArchSpec:
    """Sample one architecture from the generator ``config`` with ``seed`` (deterministic)."""
    hp = HNAGParams.from_config(config)
    rng = np.random.default_rng(int(seed))

    def op_node(preds: tuple[int, ...]) -> Node:
        op = hp.op if hp.op != "mixed" else MIXED_OPS[int(rng.integers(len(MIXED_OPS)))]
        return Node(preds, op=op)

    def module(preds: tuple[int, ...]) -> Node:
        return Node(preds, graph=_graph(hp.bottom, rng, op_node))

    def cell(preds: tuple[int, ...]) -> Node:
        return Node(preds, graph=_graph(hp.mid, rng, module))

    top = _graph(hp.top, rng, cell)
    return ArchSpec(
        top=top,
        stages=stage_list(len(top.nodes), hp.stage_ratios),
        channel_ratios=hp.channel_ratios,
        merge=hp.merge,
        meta={"config": dict(config), "seed": int(seed)},
    )
