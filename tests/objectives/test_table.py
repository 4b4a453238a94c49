"""Table spaces and TableObjective: the shipped NB201 TOMLs, a small CSV written here, bad TOMLs."""

from __future__ import annotations

import gzip
import textwrap

import numpy as np
import pytest
import torch

from nago.errors import ConfigError
from nago.benchmarks.nb201 import arch_string, parse_arch
from nago.benchmarks.nb201_net import NB201Network, arch_costs, measure
from nago.errors import EvalFailure
from nago.study.study import Study
from nago.objectives.table import TableObjective, load_table_space

from _paths import SPACES

OPTIMUM = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


@pytest.fixture(scope="module")
def nb201():
    return load_table_space(SPACES / "nb201.toml")


def test_nb201_table_known_values(nb201):
    space, table = nb201
    assert space.dim == 6 and len(table) == 15625
    assert len(set(table.groups.tolist())) == 6466  # non-isomorphic cells (dedupe = unique_str)
    best = table.best_row()
    assert table.keys[best] == OPTIMUM and best == 6111
    m = table.metrics_of(best)
    assert m["cifar10valid_valid_200ep"] == pytest.approx(91.6067, abs=1e-4)
    assert m["cifar10_test_200ep"] == pytest.approx(94.3733, abs=1e-4)
    assert [s.name for s in table.search] == ["cifar10valid_valid_200ep"]
    assert [s.name for s in table.report][0] == "cifar10_test_200ep"
    config = dict(zip(space.names, parse_arch(OPTIMUM)))
    assert table.key_of(config) == OPTIMUM and table.row(config) == 6111


@pytest.mark.parametrize("name, search", [("nb201-mo", ["cifar10valid_valid_200ep", "cifar10valid_train_time_200ep_s"]),
                                          ("nb201-params", ["cifar10valid_valid_200ep", "params_m"])])
def test_two_objective_variants(name, search):
    space, table = load_table_space(SPACES / f"{name}.toml")
    assert [s.name for s in table.search] == search and [s.maximize for s in table.search] == [True, False]
    assert table.ref_point is None and table.search_values().shape == (15625, 2)


def test_objective_returns_every_metric_column(nb201):
    space, table = nb201
    obj = TableObjective(table=table)
    config = space.sample(0, 1)[0]
    result = obj(config, seed=1, fidelity=None)
    assert set(result.metrics) == {m.name for m in table.metrics} | {"table_row", "table_group", "query_cost"}
    assert result.metrics["query_cost"] == 1.0  # a table without fidelities: one query
    assert all(isinstance(v, float) for v in result.metrics.values())
    assert obj(config, seed=2).metrics == result.metrics  # seed and fidelity are ignored


def test_study_on_table(tmp_path, nb201):
    space, table = nb201
    study = Study(run_dir=tmp_path, space=space, objective=TableObjective(table=table),
                  objectives=[str(s) for s in table.search], strategy="random", seed=0)
    study.optimize(n_trials=12, progress=False)
    done = study.trials
    assert len(done) == 12 and all(t.state.value == "complete" for t in done)
    assert all(t.metrics["cifar10_test_200ep"] == table.metrics_of(table.row(t.config))["cifar10_test_200ep"] for t in done)
    study.close()


def _write(tmp_path, toml: str, rows: list[str], name: str = "t.csv") -> str:
    path = tmp_path / name
    text = "\n".join(rows) + "\n"
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    (tmp_path / "t.toml").write_text(textwrap.dedent(toml))
    return str(tmp_path / "t.toml")


SMALL_ROWS = ["a,b,acc,cost,note", "x,1,0.5,3,p", "x,2,0.7,5,q", "y,1,0.9,9,r", "y,2,0.2,1,s"]
SMALL = """
    [params.a]
    type = "categorical"
    choices = ["x", "y"]
    [params.b]
    type = "int"
    low = 1
    high = 2
    [table]
    csv = "{csv}"
    search = ["acc", "cost"]
    report = []
    [table.metrics]
    acc = "max"
    cost = "min"
"""


@pytest.mark.parametrize("csv_name", ["t.csv", "t.csv.gz"])
def test_any_csv_without_template(tmp_path, csv_name):
    space, table = load_table_space(_write(tmp_path, SMALL.format(csv=csv_name), SMALL_ROWS, csv_name))
    assert table.metrics_of(table.row({"a": "y", "b": 1}))["acc"] == 0.9
    assert table.best_row() == 2 and list(table.groups) == [0, 1, 2, 3]
    np.testing.assert_array_equal(table.search_values()[:, 1], [3, 5, 9, 1])


def test_template_with_absolute_csv(tmp_path):
    rows = ["arch,acc", "x-1,1", "x-2,2", "y-1,3", "y-2,4"]
    (tmp_path / "abs.csv").write_text("\n".join(rows))
    toml = SMALL.format(csv=tmp_path / "abs.csv").replace('search = ["acc", "cost"]', 'key = "arch"\ntemplate = "{a}-{b}"\nsearch = ["acc"]')
    toml = toml.replace('cost = "min"', "")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "t.toml").write_text(textwrap.dedent(toml))
    space, table = load_table_space(tmp_path / "sub" / "t.toml")
    assert table.row({"a": "y", "b": 2}) == 3


@pytest.mark.parametrize(
    "edit, match",
    [
        (('acc = "max"', 'accuracy = "max"'), r"column 'accuracy' is not in the CSV; allowed: a, b, acc, cost, note"),
        (('acc = "max"', 'acc = "up"'), r"acc = 'up'; allowed: \"max\", \"min\""),
        (('search = ["acc", "cost"]', 'search = ["note"]'), r"search names \['note'\], not in \[table.metrics\]"),
        (('search = ["acc", "cost"]', 'search = []'), r"search = \[\]; allowed: a list of metric names"),
        (('report = []', 'report = []\ndedupe = "group"'), r"dedupe column 'group' is not in the CSV"),
        (('report = []', 'report = []\nkey = "a"\ntemplate = "{a}/{c}"'), r"template uses \['c'\], not parameters"),
        (('report = []', 'report = []\nkey = "note"\ntemplate = "{a}/{b}"'), r"4 of 4 configs match no row.*'x/1'.*allow_missing"),
        (('report = []', 'report = []\nkey = "arch"\ntemplate = "{a}"'), r"key column\(s\) \['arch'\] not in the CSV"),
        (('report = []', 'report = []\nref_point = [1]'), r"ref_point = \[1\]; allowed: 2 finite numbers"),
        (('report = []', 'report = []\nrows = 3'), r"unknown key\(s\) \['rows'\] in \[table\]"),
        (('csv = "t.csv"', 'csv = "nope.csv"'), r"file not found: .*nope.csv"),
    ],
)
def test_bad_toml_is_a_clear_error(tmp_path, edit, match):
    toml = SMALL.format(csv="t.csv").replace(*edit)
    with pytest.raises(ConfigError, match=match):
        load_table_space(_write(tmp_path, toml, SMALL_ROWS))


def test_bad_csv_values(tmp_path):
    with pytest.raises(ConfigError, match=r"row 3, column 'acc': 'n/a' is not a number"):
        load_table_space(_write(tmp_path, SMALL.format(csv="t.csv"), [*SMALL_ROWS[:2], "x,2,n/a,5,q", *SMALL_ROWS[3:]]))
    with pytest.raises(ConfigError, match=r"keys must be unique"):
        load_table_space(_write(tmp_path, SMALL.format(csv="t.csv"), [*SMALL_ROWS, "x,1,0.1,1,t"]))
    with pytest.raises(ConfigError, match=r"1 of 4 configs match no row"):
        load_table_space(_write(tmp_path, SMALL.format(csv="t.csv"), SMALL_ROWS[:-1]))


def test_missing_row_fails_the_trial_when_allowed(tmp_path):
    toml = SMALL.format(csv="t.csv").replace("report = []", "report = []\nallow_missing = true")
    space, table = load_table_space(_write(tmp_path, toml, SMALL_ROWS[:-1]))
    with pytest.raises(EvalFailure, match="matches no row") as e:
        TableObjective(table=table)({"a": "y", "b": 2}, seed=0)
    assert e.value.kind == "invalid"


def test_float_params_are_rejected(tmp_path):
    toml = SMALL.format(csv="t.csv").replace('type = "int"', 'type = "float"')
    with pytest.raises(ConfigError, match=r"categorical, int or fixed parameters; \['b'\]"):
        load_table_space(_write(tmp_path, toml, SMALL_ROWS))


# -- the NB201 network ------------------------------------------------------------------------------
def test_nb201_costs_match_built_networks():
    rng = np.random.default_rng(0)
    archs = [OPTIMUM] + [arch_string(list(rng.choice(["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"], 6)))
                         for _ in range(2)]
    for arch in archs:
        assert arch_costs(arch) == measure(arch)
    assert arch_costs(arch_string(["none"] * 6)) == (73306, 7783040)  # NB201's smallest: 0.0733 M params
    assert arch_costs(arch_string(["nor_conv_3x3"] * 6)) == (1531546, 220119680)  # largest: 1.5315 M, 220.1 M MACs
    x = NB201Network(OPTIMUM, C=4, N=1, num_classes=3)(torch.zeros(2, 3, 8, 8))
    assert tuple(x.shape) == (2, 3)


def test_nb201_table_params_column(nb201):
    _, table = nb201
    row = table.row(dict(zip(nb201[0].names, parse_arch(OPTIMUM))))
    assert table.metrics_of(row)["params_m"] == pytest.approx(arch_costs(OPTIMUM)[0] / 1e6, abs=1e-6)


@pytest.mark.parametrize("arch", ["|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "|none~0|+|none~0|none~1|", "junk"])
def test_bad_arch_string(arch):
    with pytest.raises(ConfigError, match="NB201 architecture"):
        parse_arch(arch)


def test_fidelity_columns_and_query_cost(tmp_path):
    from _mf_table import write_mf_table

    space, table = load_table_space(write_mf_table(tmp_path))
    obj = TableObjective(table=table)
    config = {"a": "r", "b": 2}
    row = table.row(config)
    full, low = obj(config, seed=0).metrics, obj(config, seed=0, fidelity=4).metrics
    assert full == obj(config, seed=0, fidelity=36.0).metrics  # no fidelity = the highest
    assert low["acc"] < full["acc"] and low["time"] == full["time"] and low["test"] == full["test"]
    assert full["query_cost"] == table.column("time")[row] and low["query_cost"] == pytest.approx(full["query_cost"] * 4 / 36)
    assert table.full_query_cost() == pytest.approx(table.column("time").mean())
    with pytest.raises(EvalFailure, match=r"fidelity 12 is not in the table; allowed: 4, 36") as e:
        obj(config, seed=0, fidelity=12)
    assert e.value.kind == "invalid"


@pytest.mark.parametrize("edit, match", [
    (("epochs = [4, 36]", "epochs = [36, 4]"), r"epochs = \[36, 4\]; allowed: increasing"),
    (("epochs = [4, 36]", "epochs = [4, 36]\nspeed = 2"), r"unknown key\(s\) \['speed'\] in \[table.fidelity\]"),
    (('cost = "time"', 'cost = "hours"'), r"cost column 'hours' is not in the CSV"),
    (("[table.fidelity.columns.4]", "[table.fidelity.columns.5]"), r"columns.5\]: allowed: one table per fidelity below the highest \(4\)"),
    (('acc = "acc_lo"', 'loss = "acc_lo"'), r"'loss' is not in \[table.metrics\]"),
    (('acc = "acc_lo"', 'acc = "acc_12"'), r"column 'acc_12' is not in the CSV"),
])
def test_bad_fidelity_section(tmp_path, edit, match):
    from _mf_table import write_mf_table

    path = write_mf_table(tmp_path)
    path.write_text(path.read_text().replace(*edit))
    with pytest.raises(ConfigError, match=match):
        load_table_space(path)


@pytest.mark.parametrize("name", ["nb201-mo", "nb201-params"])
def test_nb201_two_objective_spaces_have_a_twelve_epoch_column_costed_in_training_time(nb201, name):
    space, table = load_table_space(SPACES / f"{name}.toml")
    assert table.fidelity.levels == (12.0, 200.0)
    config = dict(zip(space.names, parse_arch(OPTIMUM)))
    obj = TableObjective(table=table)
    full, m12 = obj(config, seed=0).metrics, obj(config, seed=0, fidelity=12).metrics
    assert m12["cifar10valid_valid_200ep"] < m12["cifar10valid_test_200ep"] - 5  # the 12-epoch accuracy
    assert m12["query_cost"] == pytest.approx(m12["cifar10valid_train_time_200ep_s"] * 12 / 200)
    assert full["query_cost"] == pytest.approx(full["cifar10valid_train_time_200ep_s"])
    assert all(m12[k] == full[k] for k in ("params_m", "cifar10valid_train_time_200ep_s") if k in full)


@pytest.mark.parametrize("name, metric", [("nb201-cifar100", "cifar100_test_200ep"), ("nb201-imagenet16", "imagenet16_test_200ep")])
def test_warm_start_targets_have_a_twelve_epoch_fidelity_costed_in_epochs(name, metric):
    space, table = load_table_space(SPACES / f"{name}.toml")
    assert table.fidelity.levels == (12.0, 200.0) and table.full_query_cost() == 200.0
    obj = TableObjective(table=table)
    config = dict(zip(space.names, parse_arch(OPTIMUM)))
    row = table.row(config)
    full, m12 = obj(config, seed=0).metrics, obj(config, seed=0, fidelity=12).metrics
    assert full[metric] == table.column(metric)[row] and full["query_cost"] == 200.0  # single-fidelity: unchanged
    assert m12[metric] < full[metric] - 5 and m12["query_cost"] == 12.0  # the 12-epoch validation accuracy
