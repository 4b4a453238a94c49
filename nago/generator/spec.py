"""ArchSpec: a sampled network as pure data (JSON round trip, stable fingerprint, summary).

The structure is recursive: a :class:`Graph` holds :class:`Node` s; a node is either an operation
(bottom level, ``op`` set) or holds a graph of its own (``graph`` set). An :class:`ArchSpec` is the
top-level graph of cells plus what the builder needs to give it widths and resolutions.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterator

MERGES = ("sum", "cat")


@dataclass(frozen=True)
class Node:
    """One node of a graph: its inputs (lower node ids) and either an ``op`` name or a sub-``graph``."""

    preds: tuple[int, ...]
    op: str | None = None
    graph: "Graph | None" = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"preds": list(self.preds)}
        if self.op is not None:
            d["op"] = self.op
        if self.graph is not None:
            d["graph"] = self.graph.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Node":
        g = d.get("graph")
        return cls(tuple(d["preds"]), d.get("op"), Graph.from_dict(g) if g is not None else None)


@dataclass(frozen=True)
class Graph:
    """A DAG of nodes in topological (index) order; edges go from lower to higher ids."""

    nodes: tuple[Node, ...]

    @property
    def inputs(self) -> tuple[int, ...]:
        return tuple(i for i, n in enumerate(self.nodes) if not n.preds)

    @property
    def outputs(self) -> tuple[int, ...]:
        used = {j for n in self.nodes for j in n.preds}
        return tuple(i for i in range(len(self.nodes)) if i not in used)

    def to_dict(self) -> dict[str, Any]:
        return {"nodes": [n.to_dict() for n in self.nodes]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Graph":
        return cls(tuple(Node.from_dict(n) for n in d["nodes"]))

    def ops(self) -> Iterator[str]:
        """All bottom-level operation names, depth first in index order."""
        for n in self.nodes:
            if n.op is not None:
                yield n.op
            if n.graph is not None:
                yield from n.graph.ops()


@dataclass(frozen=True)
class ArchSpec:
    """A sampled architecture.

    Attributes:
        top: the top-level graph; each node is a cell holding a mid-level graph of modules, each
            module a bottom-level graph of operations.
        stages: stage (0, 1, 2) of each top-level node; stage ``s`` runs at ``1 / 2**s`` of the
            post-stem resolution, non-decreasing in node id.
        channel_ratios: width of each stage in units of the width multiplier.
        merge: how a node combines several inputs (``"sum"``: sigmoid-weighted sum with a 1x1 conv
            where widths differ; ``"cat"``: channel concatenation).
        meta: provenance (generator config, seed); not part of the fingerprint.
    """

    top: Graph
    stages: tuple[int, ...]
    channel_ratios: tuple[float, ...] = (1.0, 2.0, 4.0)
    merge: str = "sum"
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def structure(self) -> dict[str, Any]:
        """Everything that defines the network (what the fingerprint hashes)."""
        return {
            "top": self.top.to_dict(),
            "stages": list(self.stages),
            "channel_ratios": [float(c) for c in self.channel_ratios],
            "merge": self.merge,
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps({**self.structure(), "meta": self.meta}, sort_keys=True, **kwargs)

    @classmethod
    def from_json(cls, text: str) -> "ArchSpec":
        d = json.loads(text)
        return cls(
            top=Graph.from_dict(d["top"]),
            stages=tuple(d["stages"]),
            channel_ratios=tuple(d["channel_ratios"]),
            merge=d["merge"],
            meta=d.get("meta", {}),
        )

    @property
    def fingerprint(self) -> str:
        """16 hex characters of the SHA-256 of the canonical structure JSON (stable across runs)."""
        blob = json.dumps(self.structure(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def summary(self) -> dict[str, Any]:
        """Counts that describe the network: nodes per level, op counts, stages."""
        cells = self.top.nodes
        modules = [m for c in cells for m in (c.graph.nodes if c.graph else ())]
        ops = list(self.top.ops())
        counts: dict[str, int] = {}
        for o in ops:
            counts[o] = counts.get(o, 0) + 1
        return {
            "fingerprint": self.fingerprint,
            "cells": len(cells),
            "modules": len(modules),
            "op_nodes": len(ops),
            "conv_nodes": sum(v for k, v in counts.items() if "conv" in k),
            "ops": counts,
            "stages": list(self.stages),
            "cells_per_stage": [self.stages.count(s) for s in range(len(self.channel_ratios))],
            "top_inputs": list(self.top.inputs),
            "top_outputs": list(self.top.outputs),
            "merge": self.merge,
        }
