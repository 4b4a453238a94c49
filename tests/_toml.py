"""Write small TOML files from dicts in tests (a uniquely named module: tomllib only reads)."""

from __future__ import annotations

import json


def toml_lines(table: dict, prefix: str = "") -> list[str]:
    """``table`` as TOML lines: scalars and lists first, then one ``[section]`` per nested dict."""
    lines = [f"{k} = {json.dumps(v)}" for k, v in table.items() if not isinstance(v, dict)]
    for k, v in table.items():
        if isinstance(v, dict):
            lines += ["", f"[{prefix}{k}]", *toml_lines(v, f"{prefix}{k}.")]
    return lines
