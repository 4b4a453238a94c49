from __future__ import annotations

import json
import math
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from nago.errors import NagoError
from nago.study.storage import SCHEMA_VERSION, TrialStore
from nago.study.trial import TrialState


@pytest.fixture
def store(tmp_path):
    with TrialStore(tmp_path / "run" / "study.sqlite") as s:
        yield s


def test_create_assigns_ids_and_round_trips(store):
    a = store.create(config={"N_t": 5, "P_t": 0.25, "G": "ws"}, seed=11, fidelity=30, info={"bracket": 2})
    b = store.create(config={"N_t": 6}, seed=12)
    assert (a.id, b.id) == (1, 2)
    assert a.state == TrialState.WAITING and a.fidelity == 30.0 and b.fidelity is None
    got = store.get(1)
    assert got.config == {"N_t": 5, "P_t": 0.25, "G": "ws"} and got.seed == 11 and got.info == {"bracket": 2}
    assert got.metrics == {} and got.sample_metrics == [] and got.started is None


def test_lifecycle_and_timings(store):
    t = store.create(config={"x": 1}, seed=0)
    t = store.mark_running(t.id)
    assert t.state == TrialState.RUNNING and t.started is not None and t.finished is None
    samples = [{"val_acc": 0.5}, {"val_acc": 0.7}]
    t = store.complete(t.id, metrics={"val_acc": np.float32(0.6), "params": 1e6}, sample_metrics=samples)
    assert t.state == TrialState.COMPLETE
    assert t.metrics == {"val_acc": pytest.approx(0.6), "params": 1e6}
    assert t.sample_metrics == samples
    assert t.duration is not None and t.duration >= 0


def test_nan_and_inf_round_trip(store):
    t = store.create(config={"x": float("inf")}, seed=0)
    store.mark_running(t.id)
    store.fail(t.id, kind="nan", message="loss diverged", metrics={"loss": float("nan"), "memory_mb": float("inf")})
    got = store.get(t.id)
    assert math.isnan(got.metrics["loss"]) and got.metrics["memory_mb"] == float("inf")
    assert got.config["x"] == float("inf")
    assert (got.state, got.fail_kind, got.message) == (TrialState.FAILED, "nan", "loss diverged")


def test_transitions_are_checked(store):
    t = store.create(config={}, seed=0)
    store.mark_running(t.id)
    with pytest.raises(NagoError, match="trial 1 is running: cannot become running .only from waiting"):
        store.mark_running(t.id)
    store.complete(t.id, metrics={"a": 1.0})
    with pytest.raises(NagoError, match="trial 1 is complete: cannot become complete"):
        store.complete(t.id, metrics={"a": 2.0})
    with pytest.raises(NagoError, match="cannot become failed"):
        store.fail(t.id, kind="error", message="x")
    with pytest.raises(NagoError, match="cannot become running"):
        store.mark_running(t.id)
    assert store.get(t.id).metrics == {"a": 1.0}  # the refused writes changed nothing


def test_fail_from_waiting_and_bad_inputs(store):
    t = store.create(config={}, seed=0)
    with pytest.raises(NagoError, match=r"failure kind 'boom'; allowed: oom, nan"):
        store.fail(t.id, kind="boom", message="?")
    with pytest.raises(NagoError, match=r"metrics of trial 1\['acc'\] = 'high'"):
        store.complete(t.id, metrics={"acc": "high"})
    with pytest.raises(NagoError, match="trial 99 is not in .*ids 1..1"):
        store.get(99)
    with pytest.raises(NagoError, match="trial 5 is not in"):
        store.mark_running(5)
    with pytest.raises(NagoError, match="config: cannot store"):
        store.create(config={"f": object()}, seed=0)
    assert store.count() == 1  # the refused create left nothing behind
    store.fail(t.id, kind="invalid", message="K >= N")
    assert store.get(t.id).state == TrialState.FAILED


def test_requeue_running(store):
    ids = [store.create(config={"i": i}, seed=i).id for i in range(4)]
    store.mark_running(ids[0])
    store.mark_running(ids[1])
    store.mark_running(ids[2])
    store.complete(ids[2], metrics={"a": 1})
    back = store.requeue_running()
    assert [t.id for t in back] == [1, 2]
    assert all(t.state == TrialState.WAITING and t.started is None and t.info["requeued"] == 1 for t in back)
    assert store.count(TrialState.WAITING) == 3 and store.count(TrialState.RUNNING) == 0
    store.mark_running(1)
    assert store.requeue_running()[0].info["requeued"] == 2


def test_trials_filter_and_count(store):
    for i in range(5):
        store.create(config={"i": i}, seed=i)
    store.mark_running(2)
    store.complete(3, metrics={})
    store.fail(4, kind="oom", message="CUDA out of memory")
    assert [t.id for t in store.trials()] == [1, 2, 3, 4, 5]
    assert [t.id for t in store.trials([TrialState.WAITING])] == [1, 5]
    assert [t.id for t in store.trials(["complete", TrialState.FAILED])] == [3, 4]
    assert store.trials([]) == []
    assert store.count() == 5 and store.count(TrialState.RUNNING) == 1 and store.count("failed") == 1


def test_meta(store):
    assert store.get_meta("objectives") is None and store.get_meta("x", 3) == 3
    store.set_meta("objectives", ["val_acc:max", "memory_mb:min"])
    store.set_meta("ref_point", np.array([0.1, 300.0]))
    store.set_meta("objectives", ["val_acc:max"])
    assert store.get_meta("objectives") == ["val_acc:max"]
    assert store.get_meta("ref_point") == [0.1, 300.0]
    with pytest.raises(NagoError, match="reserved"):
        store.set_meta("schema_version", 99)


def test_reopen_keeps_everything(tmp_path):
    path = tmp_path / "study.sqlite"
    with TrialStore(path) as s:
        s.create(config={"a": 1}, seed=1)
        s.set_meta("run_name", "digits")
    with TrialStore(path) as s:
        assert s.get(1).config == {"a": 1} and s.get_meta("run_name") == "digits"
        assert s.create(config={}, seed=2).id == 2
        assert s._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newer_schema_and_foreign_files_are_refused(tmp_path):
    path = tmp_path / "study.sqlite"
    TrialStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (json.dumps(SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()
    with pytest.raises(NagoError, match=f"schema_version={SCHEMA_VERSION + 1}.*reads version {SCHEMA_VERSION}"):
        TrialStore(path)

    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE stuff (x)")
    conn.commit()
    conn.close()
    with pytest.raises(NagoError, match="without nago's 'meta' table"):
        TrialStore(other)

    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(NagoError, match="not a nago trial store"):
        TrialStore(junk)


def test_threads_share_one_store(store):
    def work(k):
        for i in range(10):
            t = store.create(config={"k": k, "i": i}, seed=i)
            store.mark_running(t.id)
            store.complete(t.id, metrics={"v": float(i)})

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert store.count(TrialState.COMPLETE) == 40 and [t.id for t in store.trials()] == list(range(1, 41))


_WRITER = textwrap.dedent(
    """
    import sys
    from nago.study.storage import TrialStore
    store = TrialStore(sys.argv[1])
    store.set_meta("run_name", "killed")
    i = 0
    while True:
        t = store.create(config={"i": i}, seed=i)
        store.mark_running(t.id)
        if i % 3 == 2:
            store.fail(t.id, kind="error", message=f"boom {i}")
        elif i % 3 == 1:
            store.complete(t.id, metrics={"v": float(i), "nan": float("nan")})
        print(t.id, flush=True)   # reported only after the trial's last write returned
        i += 1
    """
)


def test_sigkill_loses_nothing_reported(tmp_path):
    path = tmp_path / "study.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    reported = []
    for line in proc.stdout:
        reported.append(int(line))
        if len(reported) == 25:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    assert (tmp_path / "study.sqlite-wal").exists()  # killed before any clean checkpoint

    with TrialStore(path) as s:
        assert s.get_meta("run_name") == "killed"
        trials = {t.id: t for t in s.trials()}
        assert set(reported) <= set(trials) and list(trials) == list(range(1, len(trials) + 1))
        for i in reported:
            t = trials[i]
            expected = [TrialState.RUNNING, TrialState.COMPLETE, TrialState.FAILED][(i - 1) % 3]
            assert t.state == expected and t.config == {"i": i - 1}
            if expected == TrialState.COMPLETE:
                assert t.metrics["v"] == i - 1 and math.isnan(t.metrics["nan"])
            if expected == TrialState.FAILED:
                assert t.message == f"boom {i - 1}"
        s.requeue_running()
        assert s.count(TrialState.RUNNING) == 0
