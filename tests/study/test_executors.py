"""One contract suite run against every executor backend (Ray where it is installed)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from nago.errors import ConfigError
from nago.study.executors import EXECUTORS, Executor


def square(x):
    return x * x


def boom(x):
    raise ValueError(f"bad {x}")


def slow(seconds):
    time.sleep(seconds)
    return os.getpid()


def rendezvous(folder, me, other, timeout=60.0):
    """Announce ``me`` in ``folder``, wait until ``other`` has too; returns the pid, whether they met, and
    this task's own start and end time (``time.time()``, comparable across processes)."""
    start = time.time()
    open(os.path.join(folder, me), "w").close()
    deadline = time.monotonic() + timeout
    while not os.path.exists(os.path.join(folder, other)) and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.getpid(), os.path.exists(os.path.join(folder, other)), start, time.time()


def visible_gpus(seconds):
    time.sleep(seconds)
    return os.environ.get("CUDA_VISIBLE_DEVICES")


def suicide(_):
    os.kill(os.getpid(), signal.SIGKILL)


def collect(ex: Executor, n: int, timeout: float = 60.0):
    out, end = [], time.monotonic() + timeout
    while len(out) < n and time.monotonic() < end:
        out += ex.poll(timeout=0.2)
    return out


def _ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


BACKENDS = [
    pytest.param(("inline", {}), id="inline"),
    pytest.param(("local", {"slots": 2, "threads": 1}), id="local"),
    pytest.param(("ray", {"slots": 2, "init_kwargs": {
        "num_cpus": 2, "include_dashboard": False,
        # Ray workers import task functions by module: let them find this test module
        "runtime_env": {"env_vars": {"PYTHONPATH": os.path.dirname(os.path.abspath(__file__))}}}}), id="ray",
                 marks=pytest.mark.skipif(not _ray_available(), reason="Ray is not installed (pip install 'nago[ray]')")),
]


@pytest.fixture(params=BACKENDS)
def executor(request):
    name, kwargs = request.param
    ex = EXECUTORS.get(name)(**kwargs)
    yield ex
    ex.shutdown()


def test_results_come_back_with_their_handles(executor):
    handles = {}
    pending = list(range(5))
    results = {}
    end = time.monotonic() + 120
    while (pending or executor.running) and time.monotonic() < end:
        while pending and executor.free() > 0:
            x = pending.pop(0)
            handles[executor.submit(square, x)] = x
        for d in executor.poll(timeout=0.2):
            assert d.error is None
            results[handles[d.handle]] = d.value
    assert results == {x: x * x for x in range(5)}
    assert executor.running == 0 and executor.poll(timeout=0) == []


def test_exceptions_are_reported_not_raised(executor):
    h = executor.submit(boom, 3)
    (d,) = collect(executor, 1)
    assert d.handle == h and d.value is None and "ValueError: bad 3" in d.error and not d.died


def test_capacity_is_enforced(executor):
    for _ in range(executor.capacity):
        executor.submit(square, 1)
    with pytest.raises(RuntimeError, match="full"):
        executor.submit(square, 1)
    assert len(collect(executor, executor.capacity)) == executor.capacity


def test_cancel(executor):
    h = executor.submit(slow, 30 if executor.capacity > 1 else 0)
    executor.cancel(h)
    assert executor.running == 0
    assert all(d.handle != h for d in executor.poll(timeout=0.5))


@pytest.mark.parametrize("name", ["local"])
def test_a_killed_worker_is_reported_as_died(name):
    with EXECUTORS.get(name)(slots=1, threads=1) as ex:
        ex.submit(suicide, 0)
        (d,) = collect(ex, 1)
        assert d.died and "exit code" in d.error


def test_local_runs_tasks_in_fresh_processes_in_parallel(tmp_path):
    # Overlap is proven by the tasks themselves, not by a wall-clock bound on a shared machine: each
    # waits for the other to start, which only ends well if both run at once (run one after the
    # other, the first would give up after 60 s), and their own start/end times overlap.
    with EXECUTORS.get("local")(slots=2, threads=1) as ex:
        ex.submit(rendezvous, str(tmp_path), "a", "b")
        ex.submit(rendezvous, str(tmp_path), "b", "a")
        done = collect(ex, 2, timeout=180)
    assert len(done) == 2 and all(d.error is None for d in done), [d.error for d in done]
    (pid_a, met_a, start_a, end_a), (pid_b, met_b, start_b, end_b) = (d.value for d in done)
    assert met_a and met_b
    assert start_a < end_b and start_b < end_a  # each started before the other ended
    assert pid_a != pid_b and os.getpid() not in (pid_a, pid_b)


@pytest.mark.parametrize(
    ("parent", "gpus", "slots", "expected"),
    [
        (None, [], 1, [""]),  # no GPU: the task sees none
        (None, [0], 2, ["0", "0"]),  # more slots than GPUs: tasks share the GPU (the H200 check found this)
        ("3,5", [0, 1], 3, ["3", "5", "3"]),  # least busy first, named as the driver knows them
    ],
)
def test_local_hands_each_task_the_least_busy_gpu(monkeypatch, parent, gpus, slots, expected):
    if parent is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", parent)
    with EXECUTORS.get("local")(slots=slots, threads=1, gpus=gpus) as ex:
        handles = [ex.submit(visible_gpus, 1.0) for _ in expected]
        by_handle = {d.handle: d.value for d in collect(ex, len(expected))}
        assert [by_handle[h] for h in handles] == expected


def test_bad_slots():
    with pytest.raises(ConfigError, match="slots"):
        EXECUTORS.get("local")(slots=0)
    with pytest.raises(ConfigError, match="unknown executor 'gpu'"):
        EXECUTORS.get("gpu")


def test_a_dead_worker_is_a_done_with_died_not_an_exception():
    """The module's contract: death is reported by ``Done.died`` (nothing is raised, no WorkerDied type)."""
    import nago.study.executors as executors

    assert not hasattr(executors, "WorkerDied")
    assert "died=True" in executors.__doc__ and "WorkerDied" not in executors.__doc__
    with EXECUTORS.get("local")(slots=1, threads=1) as ex:
        ex.submit(suicide, 0)
        (d,) = collect(ex, 1)
    assert d.died and d.value is None and d.error == "worker process died with exit code -9"
