"""Repository paths for tests (a uniquely named module: several conftest.py files exist)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPACES = ROOT / "spaces"
RUNS = ROOT / "runs"
SHARED = ROOT.parent / "shared"
