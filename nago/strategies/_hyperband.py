"""Hyperband brackets and successive halving, rebuilt from trial records (used by BOHB).

Arithmetic as in HpBandSter (Falkner et al. 2018; Li et al. 2017): with ``η`` and budgets
``[min_budget, max_budget]``, ``s_max = floor(log_η(max/min))``, the budgets are
``max · η^-k`` for ``k = s_max..0``, and bracket ``b`` (0, 1, 2, ...) has ``s = s_max - b mod (s_max+1)``,
``n_0 = floor((s_max+1)/(s+1) · η^s)`` first-rung configs, rung sizes ``n_r = floor(n_0 · η^-r)`` and
starts at the ``s``-th largest budget. For 30/120 epochs and ``η = 2``: brackets (4@30 → 2@60 → 1@120),
(3@60 → 1@120), (3@120), then again.

The bracket state is never kept between calls: every trial a bracket hands out carries
``info = {"bracket": b, "rung": r}`` (promotions also ``"parent": trial_id``), so grouping the
finished and pending trials by those keys rebuilds it, after a resume too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from nago.errors import ConfigError
from nago.strategies._options import option_error
from nago.study.trial import Trial, TrialState

_EPS = 1e-9


@dataclass(frozen=True)
class Bracket:
    """One successive-halving bracket: ``sizes[r]`` configs evaluated at ``budgets[r]`` epochs."""

    index: int
    sizes: tuple[int, ...]
    budgets: tuple[float, ...]


@dataclass(frozen=True)
class HyperbandSchedule:
    """Budgets and bracket shapes of Hyperband.

    Args:
        min_budget: smallest budget in epochs (``> 0``).
        max_budget: largest budget in epochs (``>= min_budget``).
        eta: halving rate (``> 1``): a rung keeps its best ``1/η``.
    """

    min_budget: float
    max_budget: float
    eta: float
    levels: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.levels is not None:
            check_levels("bohb", self.levels)
        if not self.min_budget > 0:
            raise option_error("bohb", "min_budget", self.min_budget, "a number > 0 (epochs)")
        if not self.max_budget >= self.min_budget:
            raise option_error("bohb", "max_budget", self.max_budget, f"a number >= min_budget ({self.min_budget})")
        if not self.eta > 1:
            raise option_error("bohb", "eta", self.eta, "a number > 1")

    @property
    def s_max(self) -> int:
        if self.levels is not None:
            return len(self.levels) - 1
        return int(math.floor(math.log(self.max_budget / self.min_budget) / math.log(self.eta) + _EPS))

    @property
    def budgets(self) -> tuple[float, ...]:
        """All budgets in epochs, smallest first (``s_max + 1`` of them): ``levels`` when given, else
        ``max_budget · η^-k``."""
        if self.levels is not None:
            return tuple(self.levels)
        return tuple(self.max_budget * self.eta ** (-k) for k in range(self.s_max, -1, -1))


    def bracket(self, index: int) -> Bracket:
        """The shape of bracket number ``index`` (0-based; shapes cycle every ``s_max + 1``)."""
        s = self.s_max - index % (self.s_max + 1)
        n0 = int(math.floor((self.s_max + 1) / (s + 1) * self.eta**s + _EPS))
        sizes = tuple(max(int(math.floor(n0 * self.eta ** (-r) + _EPS)), 1) for r in range(s + 1))
        return Bracket(index, sizes, self.budgets[self.s_max - s :])


def group_by_rung(trials: Sequence[Trial]) -> dict[int, dict[int, list[Trial]]]:
    """``{bracket: {rung: [trials]}}`` of the trials whose ``info`` has integer bracket and rung."""
    out: dict[int, dict[int, list[Trial]]] = {}
    for t in trials:
        b, r = t.info.get("bracket"), t.info.get("rung")
        if isinstance(b, int) and isinstance(r, int) and not isinstance(b, bool) and b >= 0 and r >= 0:
            out.setdefault(b, {}).setdefault(r, []).append(t)
    return out


def check_budgets(schedule: HyperbandSchedule, groups: dict[int, dict[int, list[Trial]]]) -> None:
    """Raise :class:`ConfigError` if recorded trials do not fit this schedule (e.g. a resume with
    another ``eta`` or other budgets)."""
    for b, rungs in groups.items():
        bracket = schedule.bracket(b)
        for r, members in rungs.items():
            for t in members:
                if r >= len(bracket.budgets) or t.fidelity is None or not math.isclose(t.fidelity, bracket.budgets[r]):
                    raise ConfigError(
                        f"trial {t.id} (bracket {b}, rung {r}, fidelity {t.fidelity}) does not fit the bohb "
                        f"schedule min_budget={schedule.min_budget}, max_budget={schedule.max_budget}, "
                        f"eta={schedule.eta} (bracket {b} has budgets {list(bracket.budgets)}); resume with "
                        "the options the study started with"
                    )


def ready_promotions(
    schedule: HyperbandSchedule,
    groups: dict[int, dict[int, list[Trial]]],
    rank: Callable[[Sequence[Trial]], list[Trial]],
) -> list[tuple[Bracket, int, Trial]]:
    """Promotions that can start now, oldest bracket first.

    A rung is closed when it holds its planned number of trials and all of them have finished; the
    planned size of rung ``r > 0`` is ``min(n_r, successes of rung r-1)``, because failed trials are
    never promoted. When rung ``r`` closes, its best ``n_{r+1}`` trials (by ``rank``) move on.

    Args:
        schedule: the Hyperband schedule.
        groups: the output of :func:`group_by_rung` over finished and pending trials.
        rank: maps a rung's trials to its complete (promotable) trials, best first.

    Returns:
        ``(bracket, next_rung, parent_trial)`` for every promotion not yet handed out.
    """
    out: list[tuple[Bracket, int, Trial]] = []
    for b in sorted(groups):
        bracket, rungs = schedule.bracket(b), groups[b]
        planned = bracket.sizes[0]
        for r in range(len(bracket.sizes) - 1):
            members = rungs.get(r, [])
            finished = all(t.state in (TrialState.COMPLETE, TrialState.FAILED) for t in members)
            if len(members) < planned or not finished:
                break
            best = rank(members)[: bracket.sizes[r + 1]]
            nxt = rungs.get(r + 1, [])
            promoted = {t.info.get("parent") for t in nxt}
            room = bracket.sizes[r + 1] - len(nxt)
            out.extend((bracket, r + 1, t) for t in [t for t in best if t.id not in promoted][: max(room, 0)])
            planned = min(bracket.sizes[r + 1], len(best))
    return out


def check_levels(strategy: str, levels: object) -> tuple[float, ...]:
    """Validate an explicit ``budgets`` option: at least two increasing numbers ``> 0`` (epochs, or the
    fidelities a table defines, e.g. ``[12, 200]`` for NAS-Bench-201)."""
    ok = isinstance(levels, (list, tuple)) and len(levels) >= 2
    if ok:
        try:
            values = tuple(float(v) for v in levels if not isinstance(v, bool))
        except (TypeError, ValueError):
            values = ()
        ok = len(values) == len(levels) and all(math.isfinite(v) and v > 0 for v in values) and all(
            a < b for a, b in zip(values, values[1:]))
    if not ok:
        raise option_error(strategy, "budgets", levels, "a list of at least two increasing numbers > 0 (epochs), e.g. [12, 200]")
    return values


def schedule_from_options(strategy: str, opts: dict, fidelity: float | None, eta: float) -> HyperbandSchedule:
    """The rungs from a strategy's options: ``budgets`` (explicit list; then ``min_budget``/``max_budget``
    must not be set), else ``max_budget`` (default: the run's ``fidelity``) and ``min_budget`` (default
    ``max_budget / eta**2``: three rungs)."""
    from nago.strategies._options import float_option

    if opts.get("budgets") is not None:
        for name in ("min_budget", "max_budget"):
            if opts.get(name) is not None:
                raise option_error(strategy, name, opts[name], "unset when 'budgets' lists the rungs")
        levels = check_levels(strategy, opts["budgets"])
        return HyperbandSchedule(min_budget=levels[0], max_budget=levels[-1], eta=eta, levels=levels)
    if opts.get("max_budget", fidelity) is None:
        raise option_error(strategy, "max_budget", None,
                           "a number of epochs > 0 (needed when the run sets no fidelity), or 'budgets' = [low, ..., high]")
    max_budget = float_option(strategy, "max_budget", opts.get("max_budget", fidelity), 0, open_low=True)
    min_budget = float_option(strategy, "min_budget", opts.get("min_budget", max_budget / eta**2), 0, open_low=True)
    return HyperbandSchedule(min_budget=min_budget, max_budget=max_budget, eta=eta)
