"""Every code example in README.md works, whatever the README says at the time.

* ```python blocks are executed for real, each in a fresh namespace, in a scratch directory laid
  out like the repository: ``spaces/`` is the repository's, and ``runs/`` holds the repository's run
  files **shrunk** by :func:`_shrink` (networks of 20k parameters, 300 training images, 1 epoch, a
  small MOBO; table runs as they are). So ``nago.study_from_run("runs/digits.toml", ...)`` in the README
  runs the real loop in seconds instead of minutes; nothing else about the snippet changes.
* ```console / ```bash / ```sh blocks: every ``nago ...`` command (also after ``&&`` or in
  ``python -m nago ...``) must parse with the real parser, and the repository files it names must
  exist; ``[--flag]`` (optional syntax) is read as ``--flag``. Inline ```nago ...``` spans that are
  examples (no ``[``, ``|``, ``...`` or CAPITALISED placeholders, unlike the command table) too; a
  span naming a command without its required arguments is a mention and passes. ``$ nago sample ...`` console examples
  are also run, and each output line the README shows must be printed (in order).
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from nago.cli import build_parser, main

from _toml import toml_lines as _toml
from _paths import ROOT

README = ROOT / "README.md"
_FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```", re.M | re.S)
_SHELLS = ("bash", "console", "sh", "shell")  # a tuple: xdist workers must collect the same order
_SMALL = {
    "model": {"param_limit": 2e4, "head_width": 16},
    "train": {"epochs": 1, "progress": False},
    "evaluate": {"device": "cpu", "samples": 1},
}
_SMALL_STRATEGIES = {
    "mobo": {"n_init": 3, "num_restarts": 2, "raw_samples": 32, "mc_samples": 32},
    "bohb": {"min_budget": 1, "max_budget": 2},
}


def _blocks(*langs: str) -> list[tuple[int, str]]:
    """``(line number, code)`` of the README's fenced blocks in ``langs``."""
    text = README.read_text()
    return [(text[:m.start()].count("\n") + 1, m.group(2)) for m in _FENCE.finditer(text) if m.group(1) in langs]


# -- python blocks -------------------------------------------------------------------------------
def _shrink(run_file: Path, into: Path) -> None:
    """``run_file`` at a tiny budget (table runs unchanged but for the space path), written into ``into``."""
    raw = tomllib.loads(run_file.read_text())
    space = Path(raw["run"]["space"])
    raw["run"]["space"] = str(space if space.is_absolute() else (run_file.parent / space).resolve())
    if "data" in raw:  # a network run (a table run has only [run] and [search])
        raw["data"]["max_train"] = 300
        for section, values in _SMALL.items():
            raw.setdefault(section, {}).update(values)
        search = raw.setdefault("search", {})
        search["fidelity"] = 1
        options = search.get("options", {})
        if options and not any(isinstance(v, dict) for v in options.values()):  # flat: [search] strategy's
            options = {search.get("strategy", "mobo"): options}
        for name, small in _SMALL_STRATEGIES.items():
            options[name] = {**options.get(name, {}), **small}
        search["options"] = options
    (into / run_file.name).write_text("\n".join(_toml(raw)) + "\n")


@pytest.fixture
def scratch(tmp_path, monkeypatch) -> Path:
    """A working directory like the repository's: its spaces/, and its runs/ shrunk."""
    (tmp_path / "spaces").symlink_to(ROOT / "spaces", target_is_directory=True)
    (tmp_path / "runs").mkdir()
    for run_file in sorted((ROOT / "runs").glob("*.toml")):
        _shrink(run_file, tmp_path / "runs")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NAGO_NO_PROGRESS", "1")
    return tmp_path


PYTHON = _blocks("python", "py")


def test_the_readme_has_python_examples():
    assert PYTHON


@pytest.mark.parametrize("line, code", PYTHON, ids=[f"README.md:{line}" for line, _ in PYTHON])
def test_python_example_runs(scratch, line, code):
    with contextlib.redirect_stdout(io.StringIO()) as out:
        exec(compile(code, f"README.md:{line} (python block)", "exec"), {"__name__": "__readme__"})  # noqa: S102
    assert out.getvalue() or "print(" not in code  # what it prints, it printed


# -- console / bash blocks -----------------------------------------------------------------------
def _commands(code: str, lang: str) -> list[tuple[list[str], list[str]]]:
    """``(argv after "nago", output lines shown after it)`` for every nago command of a block."""
    lines = code.replace("\\\n", " ").splitlines()
    found: list[tuple[list[str], list[str]]] = []
    for i, line in enumerate(lines):
        if lang == "console":
            if not line.startswith("$ "):
                continue
            line = line[2:]
        lex = shlex.shlex(line, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        segment: list[str] = []
        for token in [*lex, "&&"]:
            if token in ("&&", "||", ";", "|", "&"):
                argv = segment[1:] if segment[:1] == ["nago"] else segment[3:] if segment[:3] == ["python", "-m", "nago"] else None
                if argv is not None:
                    shown = []
                    if lang == "console":
                        for after in lines[i + 1:]:
                            if after.startswith("$ "):
                                break
                            shown.append(after)
                    found.append(([t[1:-1] if t.startswith("[") and t.endswith("]") else t for t in argv], shown))
                segment = []
            else:
                segment.append(token)
    return found


def _inline_commands() -> list[tuple[int, list[str], list[str] | None]]:
    """Inline ``nago ...`` code spans that are examples, not synopses (no ``[``, ``|``, ``...`` or
    CAPITALISED placeholders)."""
    text = _FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), README.read_text())
    found = []
    for m in re.finditer(r"`(nago [^`]+)`", text):
        argv = shlex.split(m.group(1))[1:]
        if not any(c in m.group(1) for c in "[|") and "..." not in m.group(1) and not any(re.fullmatch(r"[A-Z_]{2,}", t) for t in argv):
            found.append((text[:m.start()].count("\n") + 1, argv, None))  # shown None: inline
    return found


SHELL = [(line, argv, shown) for lang in sorted(_SHELLS) for line, code in _blocks(lang) for argv, shown in _commands(code, lang)]
SHELL += _inline_commands()


def test_the_readme_has_command_examples():
    assert any(argv[:1] == ["search"] for _, argv, _ in SHELL)


@pytest.mark.parametrize("line, argv, shown", SHELL, ids=[f"README.md:{ln} nago {' '.join(a)[:60]}" for ln, a, _ in SHELL])
def test_command_example_parses(line, argv, shown):
    parser = build_parser()
    try:
        with contextlib.redirect_stderr(io.StringIO()) as err:
            parser.parse_args(argv)
    except SystemExit:
        if shown is None and "the following arguments are required" in err.getvalue():
            return  # an inline mention of a command (`nago bench surrogate` trains ...), not an example
        pytest.fail(f"README.md:{line}: `nago {' '.join(argv)}` does not parse: {err.getvalue().strip()}")
    for token in argv:
        if token.endswith(".toml") and not Path(token).is_absolute():
            assert (ROOT / token).is_file(), f"README.md:{line}: {token} does not exist"


SAMPLES = [(line, argv, shown) for line, argv, shown in SHELL if argv[:1] == ["sample"] and shown]


@pytest.mark.parametrize("line, argv, shown", SAMPLES, ids=[f"README.md:{ln}" for ln, _, _ in SAMPLES])
def test_sample_example_prints_what_the_readme_shows(monkeypatch, line, argv, shown):
    monkeypatch.chdir(ROOT)
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert main(argv) == 0
    printed = out.getvalue().splitlines()
    at = 0
    for want in (s for s in shown if s.strip()):
        assert want in printed[at:], f"README.md:{line}: `nago {' '.join(argv)}` no longer prints {want!r}:\n{out.getvalue()}"
        at = printed.index(want, at) + 1
