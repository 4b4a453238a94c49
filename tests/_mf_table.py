"""A small two-objective table with two fidelities (written in a test's tmp_path): 6 x 6 = 36 configs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

TOML = """
[space]
name = "mf"
kind = "table"

[params.a]
type = "categorical"
choices = ["p", "q", "r", "s", "t", "u"]

[params.b]
type = "int"
low = 0
high = 5

[table]
csv = "mf.csv"
search = ["acc", "time"]
report = ["test"]

[table.metrics]
acc = "max"
time = "min"
test = "max"

[table.fidelity]
epochs = [4, 36]
cost = "time"

[table.fidelity.columns.4]
acc = "acc_lo"
"""


def write_mf_table(tmp_path: Path) -> Path:
    """``mf.toml`` + ``mf.csv``: ``acc`` rises with ``a`` and ``b``, ``time`` with ``b`` only, ``acc_lo`` is
    ``acc`` minus a config-dependent offset (a noisy low-fidelity reading), ``test = acc - 1``."""
    rng = np.random.default_rng(0)
    lines = ["a,b,acc,acc_lo,time,test"]
    for i, a in enumerate("pqrstu"):
        for b in range(6):
            acc = 50 + 5 * i + 6 * b - 0.4 * b * b
            lo = acc - 20 - 3 * rng.random()
            lines.append(f"{a},{b},{acc:.3f},{lo:.3f},{10 + 10 * b + i},{acc - 1:.3f}")
    (tmp_path / "mf.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "mf.toml").write_text(textwrap.dedent(TOML))
    return tmp_path / "mf.toml"
