"""What a study's protocol is (space, objectives, strategy and options, seed, fidelity, run meta), stored
with the study so that a resume under another protocol is refused, naming each differing field."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from nago.study.study import Study


def protocol_identity(study: "Study", meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """What makes a study the same study on resume (JSON values, as the store keeps them)."""
    identity = {
        "objectives": [str(o) for o in study.objectives],
        "space": [p.name for p in study.space.searchable],
        # ranges and choices: the same names over other ranges would mix two searches
        "ranges": {p.name: {"type": p.type, "low": p.low, "high": p.high, "log": p.log, "choices": list(p.choices)}
                   for p in study.space.searchable},
        # fixed values (e.g. `--set N_m=1`): a resume must not mix networks of another space
        "fixed": {p.name: p.value for p in study.space.params if not p.searchable},
        "strategy": study.strategy_name,
        "seed": study.seed,
        "fidelity": study.fidelity,
    }
    if meta and meta.get("protocol") is not None:
        identity["protocol"] = meta["protocol"]
    return json.loads(json.dumps(identity, default=str))


def identity_diff(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """``"key was X, now Y"`` for each leaf that differs; keys ``old`` lacks are not checked (older stores)."""
    out: list[str] = []
    for k, v in new.items():
        if k not in old:
            continue
        if isinstance(v, dict) and isinstance(old[k], dict):
            out += identity_diff(old[k], v, f"{prefix}{k}.")
            out += [f"{prefix}{k}.{g} was {old[k][g]!r}, now absent" for g in old[k] if g not in v]
        elif old[k] != v:
            out.append(f"{prefix}{k} was {old[k]!r}, now {v!r}")
    return out
