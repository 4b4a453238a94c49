from __future__ import annotations

import json

from _paths import SPACES
from nago.cli import main


def test_bench_parallel_tiny(capsys):
    code = main(["bench", "parallel", "--json", "--space", str(SPACES / "nb201.toml"), "--executors", "local",
                 "--workers", "1,2", "--trials", "3", "--seeds", "1", "--delay", "0.1"])
    assert code == 0
    r = json.loads(capsys.readouterr().out)
    local = r["executors"]["local"]
    assert set(local) == {"1", "2", "speedup"} and local["speedup"] > 0
    assert local["1"]["complete"] == [3] and local["2"]["complete"] == [3]
    assert 80 < local["1"]["best_report_mean"] <= 100  # an NB201 CIFAR-10 test accuracy in %
