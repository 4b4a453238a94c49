from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from _paths import ROOT, SPACES
from nago.errors import ConfigError
from nago.generator.hnag import generate, stage_list
from nago.config.space import SearchSpace
from nago.generator.spec import ArchSpec


def test_stage_list_normalised():
    assert stage_list(8, (1 / 3,) * 3) == (0, 0, 0, 1, 1, 1, 2, 2)
    assert stage_list(3, (1 / 3,) * 3) == (0, 1, 2)
    assert stage_list(9, (1 / 3,) * 3) == (0, 0, 0, 1, 1, 1, 2, 2, 2)
    assert stage_list(4, (0.5, 0.25, 0.25)) == (0, 0, 1, 2)
    assert stage_list(5, (0.05, 0.05, 0.9)) == (0, 2, 2, 2, 2)  # an empty stage is skipped, not crashed on


def test_paper_example_structure(paper_config):
    spec = generate(paper_config, seed=0)
    s = spec.summary()
    assert s["cells"] == 8 and s["modules"] == 8 and s["conv_nodes"] == 40
    assert s["stages"] == [0, 0, 0, 1, 1, 1, 2, 2]
    assert spec.channel_ratios == (1.0, 2.0, 4.0)


def test_fresh_graph_for_every_node():
    """Not the original code's same-seed bug: cells of one network differ."""
    spec = generate(dict(N_t=6, K_t=4, P_t=0.5, N_m=6, P_m=0.4, N_b=8, K_b=4, P_b=0.5), seed=3)
    cells = {json.dumps(c.graph.to_dict(), sort_keys=True) for c in spec.top.nodes}
    modules = {json.dumps(m.graph.to_dict(), sort_keys=True) for c in spec.top.nodes for m in c.graph.nodes}
    assert len(cells) > 1 and len(modules) > 1


def test_seeds_differ_and_repeat(paper_config):
    a, b = generate(paper_config, 1), generate(paper_config, 1)
    assert a.fingerprint == b.fingerprint and a == b
    prints = {generate(dict(paper_config, N_m=3), s).fingerprint for s in range(10)}
    assert len(prints) == 10


def test_fingerprint_stable_across_processes(paper_config):
    code = (
        "import json,sys; from nago.generator.hnag import generate; "
        f"print(generate({paper_config!r}, 7).fingerprint)"
    )
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout.strip()
            for _ in range(2)}
    assert outs == {generate(paper_config, 7).fingerprint}


def test_json_round_trip():
    sp = SearchSpace.from_toml(SPACES / "hnag-full.toml")
    for i, cfg in enumerate(sp.sample(np.random.default_rng(0), 20)):
        spec = generate(cfg, i)
        back = ArchSpec.from_json(spec.to_json())
        assert back == spec and back.fingerprint == spec.fingerprint and back.meta["seed"] == i


def test_mixed_ops_and_graph_models():
    cfg = dict(G_t="ba", N_t=6, M_t=2, G_m="ws", N_m=4, K_m=2, P_m=0.3, G_b="er", N_b=6, P_b=0.5, op="mixed", merge="cat")
    s = generate(cfg, 0).summary()
    assert len(s["ops"]) > 1 and s["merge"] == "cat"


@pytest.mark.parametrize(
    "cfg, match",
    [
        (dict(N_t=4, K_t=2, P_t=0.5, N_m=1, P_m=0.5, N_b=3, K_b=2), "'P_b' is missing"),
        (dict(N_t=4, K_t=2, P_t=0.5, N_m=1, P_m=0.5, N_b=3, K_b=2, P_b=0.5, zz=1), "unknown generator parameter"),
        (dict(N_t=4, K_t=2, P_t=1.5, N_m=1, P_m=0.5, N_b=3, K_b=2, P_b=0.5), r"'P_t'.*\[0, 1\]"),
        (dict(N_t=0, K_t=2, P_t=0.5, N_m=1, P_m=0.5, N_b=3, K_b=2, P_b=0.5), "'N_t'.*>= 1"),
        (dict(N_t=4, K_t=2, P_t=0.5, N_m=1, P_m=0.5, N_b=3, K_b=2, P_b=0.5, op="conv7x7"), "'op'"),
        (dict(N_t=4, K_t=2, P_t=0.5, N_m=1, P_m=0.5, N_b=3, K_b=2, P_b=0.5, G_m="xx"), "'G_m'"),
        (dict(N_t=4, K_t=2, P_t=0.5, N_m=1, P_m=0.5, N_b=3, K_b=2, P_b=0.5, S_1=0), "'S_1'"),
    ],
)
def test_bad_generator_configs(cfg, match):
    with pytest.raises(ConfigError, match=match):
        generate(cfg, 0)
