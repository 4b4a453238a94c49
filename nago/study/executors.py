"""Where evaluations run: in-process, a fresh process per task, or a Ray cluster.

An executor runs picklable callables and knows nothing of objectives (the Study wires them). The
interface is concurrent.futures-shaped but poll-based, so one driver loop can wait on any backend::

    ex = EXECUTORS.get("local")(slots=2)
    h = ex.submit(fn, *args)               # a Handle; at most ex.capacity tasks at once
    for done in ex.poll(timeout=1.0):      # finished tasks, in completion order
        done.handle, done.value, done.error
    ex.cancel(h); ex.shutdown()

A task's exception comes back as ``error`` (its ``repr``); a worker that dies without answering
(OOM killer, segfault, ``kill -9``) comes back as a :class:`Done` with ``died=True`` and ``error``
saying how (nothing is raised), so the driver can re-queue or fail the trial (the Study re-queues
it once, then fails it as ``killed``). Backends:

* ``inline``: runs the task in the driver's process during :meth:`poll` (capacity 1; the CPU
  default, no start-up cost).
* ``local``: a fresh ``spawn``-ed process per task, so CUDA memory cannot creep from one trial to
  the next; ``slots`` tasks at once. With GPUs, each task sees only one GPU (``CUDA_VISIBLE_DEVICES``),
  the one running the fewest tasks: one trial per GPU by default, several per GPU when ``slots``
  exceeds the GPU count (small networks leave a large GPU mostly idle). On CPUs, each task gets
  ``threads`` torch threads.
* ``ray``: Ray core tasks with ``num_cpus`` / ``num_gpus`` each, on the cluster at ``address``
  (or ``RAY_ADDRESS``, or a local instance). Optional extra: ``pip install 'nago[ray]'``.
"""

from __future__ import annotations

import abc
import itertools
import multiprocessing as mp
import os
import pickle
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any, Callable

from nago.errors import ConfigError, NagoError
from nago.registry import Registry

EXECUTORS: Registry[type["Executor"]] = Registry("executor")


@dataclass(frozen=True)
class Handle:
    id: int


@dataclass
class Done:
    """A finished task, as :meth:`Executor.poll` returns it.

    Attributes:
        handle: the task's handle from :meth:`Executor.submit`.
        value: what the task returned (``None`` when it raised or died).
        error: ``None`` when the task returned; else a message: the exception (``"ValueError: bad x"``)
            or how the worker died (``"worker process died with exit code -9"``).
        died: ``True`` when the process running the task ended without answering (killed, crashed,
            out of host memory); ``False`` when it returned or raised.
    """

    handle: Handle
    value: Any = None
    error: str | None = None
    died: bool = False


class Executor(abc.ABC):
    """Runs picklable callables; see the module docstring for the contract."""

    capacity: int = 1

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    @property
    @abc.abstractmethod
    def running(self) -> int:
        """Tasks submitted and not yet returned by :meth:`poll`."""

    def free(self) -> int:
        return self.capacity - self.running

    def submit(self, fn: Callable[..., Any], *args: Any) -> Handle:
        if self.free() <= 0:
            raise RuntimeError(f"{type(self).__name__} is full ({self.capacity} tasks running)")
        h = Handle(next(self._ids))
        self._submit(h, fn, args)
        return h

    @abc.abstractmethod
    def _submit(self, h: Handle, fn: Callable[..., Any], args: tuple) -> None: ...

    @abc.abstractmethod
    def poll(self, timeout: float | None = None) -> list[Done]:
        """Wait up to ``timeout`` seconds (``None``: until one finishes) and return finished tasks."""

    @abc.abstractmethod
    def cancel(self, h: Handle) -> None:
        """Stop a task if it is still running; it is not reported by :meth:`poll`."""

    def shutdown(self) -> None:
        """Cancel everything still running and release resources."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


@EXECUTORS.register("inline")
class InlineExecutor(Executor):
    """Runs each task in this process when polled."""

    capacity = 1

    def __init__(self, **_: Any) -> None:
        super().__init__()
        self._queue: list[tuple[Handle, Callable[..., Any], tuple]] = []

    @property
    def running(self) -> int:
        return len(self._queue)

    def _submit(self, h, fn, args) -> None:
        self._queue.append((h, fn, args))

    def poll(self, timeout: float | None = None) -> list[Done]:
        if not self._queue:
            return []
        h, fn, args = self._queue.pop(0)
        try:
            return [Done(h, value=fn(*args))]
        except Exception as e:  # noqa: BLE001 - the task's failure is the caller's to record
            return [Done(h, error=f"{type(e).__name__}: {e}")]

    def cancel(self, h: Handle) -> None:
        self._queue = [q for q in self._queue if q[0] != h]


def _child(conn, payload: bytes, env: dict[str, str]) -> None:
    os.environ.update(env)  # OMP_NUM_THREADS, CUDA_VISIBLE_DEVICES: set before the task imports torch
    try:
        fn, args = pickle.loads(payload)
        conn.send((True, fn(*args)))
    except Exception as e:  # noqa: BLE001
        conn.send((False, f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


@EXECUTORS.register("local")
class LocalExecutor(Executor):
    """A fresh spawned process per task.

    Args:
        slots: tasks at once (default: visible GPUs, else CPU cores // threads).
        threads: torch CPU threads per task (default: 1 if several slots share the CPU, else 0 = torch's).
        gpus: GPU ids (indices among this process's visible GPUs) to hand out, each task getting the
            least busy one (default: all visible ones; ``[]`` for none: tasks see no GPU).
    """

    def __init__(self, *, slots: int | None = None, threads: int | None = None, gpus: list[int] | None = None, **_: Any) -> None:
        super().__init__()
        if gpus is None:
            gpus = _visible_gpus()
        cores = os.cpu_count() or 1
        if slots is None:
            slots = len(gpus) or max(1, cores // max(1, threads or 1))
        if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
            raise ConfigError(f"slots: got {slots!r}; allowed: an integer >= 1")
        self.capacity = slots
        self.threads = threads if threads is not None else (1 if slots > 1 else 0)
        self.gpus = list(gpus)
        self._ctx = mp.get_context("spawn")
        self._tasks: dict[Handle, tuple[Any, Any, int | None]] = {}  # handle -> (process, conn, gpu)

    @property
    def running(self) -> int:
        return len(self._tasks)

    def _least_busy_gpu(self) -> int | None:
        """The GPU with the fewest running tasks (the lowest id on ties); ``None`` without GPUs."""
        if not self.gpus:
            return None
        load = {g: 0 for g in self.gpus}
        for _, _, g in self._tasks.values():
            if g in load:
                load[g] += 1
        return min(self.gpus, key=lambda g: (load[g], g))

    def _submit(self, h, fn, args) -> None:
        gpu = self._least_busy_gpu()
        env = {"CUDA_VISIBLE_DEVICES": "" if gpu is None else _physical_gpu(gpu)}
        if self.threads:
            env.update(OMP_NUM_THREADS=str(self.threads), MKL_NUM_THREADS=str(self.threads))
        parent, child = self._ctx.Pipe(duplex=False)
        payload = pickle.dumps((fn, args))  # unpickled in the child only after its environment is set
        proc = self._ctx.Process(target=_child, args=(child, payload, env), daemon=True)
        proc.start()
        child.close()
        self._tasks[h] = (proc, parent, gpu)

    def poll(self, timeout: float | None = None) -> list[Done]:
        if not self._tasks:
            return []
        waitables = [c for _, c, _ in self._tasks.values()] + [p.sentinel for p, _, _ in self._tasks.values()]
        wait(waitables, timeout)
        done = []
        for h, (proc, conn, _) in list(self._tasks.items()):
            if conn.poll():
                try:
                    ok, value = conn.recv()
                except (EOFError, OSError):
                    ok, value = None, None
                if ok is not None:
                    done.append(Done(h, value=value) if ok else Done(h, error=value))
                    proc.join(timeout=5)
                    del self._tasks[h]
                    conn.close()
                    continue
            if not proc.is_alive():
                proc.join()
                done.append(Done(h, error=f"worker process died with exit code {proc.exitcode}", died=True))
                del self._tasks[h]
                conn.close()
        return done

    def cancel(self, h: Handle) -> None:
        task = self._tasks.pop(h, None)
        if task is not None:
            proc, conn, _ = task
            proc.kill()
            proc.join()
            conn.close()

    def shutdown(self) -> None:
        for h in list(self._tasks):
            self.cancel(h)


def _physical_gpu(index: int) -> str:
    """The ``CUDA_VISIBLE_DEVICES`` entry of this process's visible GPU ``index`` (a child must name
    the device as the driver does, not by this process's renumbered index)."""
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    return visible[index] if "CUDA_VISIBLE_DEVICES" in os.environ and index < len(visible) else str(index)


def _visible_gpus() -> list[int]:
    try:
        import torch

        return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    except Exception:  # noqa: BLE001
        return []


@EXECUTORS.register("ray")
class RayExecutor(Executor):
    """Ray core tasks; the driver keeps the study and its store.

    Args:
        address: cluster address (``"auto"``, ``"ray://host:10001"``); default ``RAY_ADDRESS`` or a
            local instance.
        slots: tasks at once (default: the cluster's CPUs // num_cpus, or its GPUs // num_gpus).
        num_cpus, num_gpus: resources per task (one GPU per trial on a GPU cluster).
    """

    def __init__(self, *, address: str | None = None, slots: int | None = None, num_cpus: float = 1,
                 num_gpus: float = 0, init_kwargs: dict | None = None, **_: Any) -> None:
        super().__init__()
        try:
            import ray
        except ImportError:
            raise NagoError("the ray executor needs Ray: pip install 'nago[ray]' (or pip install 'ray[default]')") from None
        self.ray = ray
        if not ray.is_initialized():
            ray.init(address=address or os.environ.get("RAY_ADDRESS"), ignore_reinit_error=True,
                     log_to_driver=False, **(init_kwargs or {}))
        res = ray.cluster_resources()
        if slots is None:
            slots = int(res.get("GPU", 0) // num_gpus) if num_gpus else int(res.get("CPU", 1) // max(num_cpus, 1e-9))
        self.capacity = max(1, int(slots))
        self._remote = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=0)(_ray_call)
        self._tasks: dict[Handle, Any] = {}

    @property
    def running(self) -> int:
        return len(self._tasks)

    def _submit(self, h, fn, args) -> None:
        self._tasks[h] = self._remote.remote(fn, *args)

    def poll(self, timeout: float | None = None) -> list[Done]:
        if not self._tasks:
            return []
        refs = {ref: h for h, ref in self._tasks.items()}
        ready, _ = self.ray.wait(list(refs), num_returns=1, timeout=timeout)
        if ready:  # collect everything else that is ready too, without waiting
            ready, _ = self.ray.wait(list(refs), num_returns=len(refs), timeout=0)
        done = []
        for ref in ready:
            h = refs[ref]
            del self._tasks[h]
            try:
                done.append(Done(h, value=self.ray.get(ref)))
            except (self.ray.exceptions.WorkerCrashedError, self.ray.exceptions.NodeDiedError) as e:
                done.append(Done(h, error=f"Ray worker died: {type(e).__name__}", died=True))
            except self.ray.exceptions.RayTaskError as e:
                done.append(Done(h, error=f"{type(e.cause).__name__}: {e.cause}" if e.cause else str(e)))
        return done

    def cancel(self, h: Handle) -> None:
        ref = self._tasks.pop(h, None)
        if ref is not None:
            self.ray.cancel(ref, force=True)

    def shutdown(self) -> None:
        for h in list(self._tasks):
            self.cancel(h)


def _ray_call(fn, *args):
    return fn(*args)

