"""Picklable test objectives with light imports (worker processes unpickle them by module)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


class Sleepy:
    """Sleeps ``seconds * (1 + 3 x)`` (trials end at different times), then returns metrics with its
    pid and start/end times."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __call__(self, config, *, seed, fidelity):
        start = time.time()
        time.sleep(self.seconds * (1 + 3 * config["x"]))
        return {"y": config["x"] * config["n"], "pid": float(os.getpid()), "start": start, "end": time.time()}


class DiesOnce:
    """Kills its own worker the first time it sees a seed (marker files in ``folder``), or always."""

    def __init__(self, folder: str, always: bool = False) -> None:
        self.folder, self.always = folder, always

    def __call__(self, config, *, seed, fidelity):
        marker = Path(self.folder) / f"{seed}"
        if self.always or not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return {"y": config["x"]}
