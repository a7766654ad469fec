"""Contenders measured round by round in A B B A order, and figures printed with their spread.

On a machine that other work shares, the load changes from one minute to the
next. Measuring one contender's runs in a block and then the other's turns that
change into a ratio; alternating them round by round (A B, then B A, so that
neither always runs second) spreads it over both, and the spread of the
per-round figures says how far a ratio can be trusted.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


def interleaved(contenders: Sequence[str], rounds: int) -> list[tuple[int, str]]:
    """(round, contender) in the order to run them: forward in odd rounds, reversed in even."""
    order = []
    for number in range(1, rounds + 1):
        names = contenders if number % 2 else list(reversed(contenders))
        order.extend((number, name) for name in names)
    return order


def run_rounds(
    contenders: Sequence[str],
    rounds: int,
    measure: Callable[[int, str], T],
    say: Callable[[str], None] = print,
) -> dict[str, list[T]]:
    """Measure every contender once a round, interleaved; each contender's results by round."""
    results: dict[str, list[T]] = {name: [] for name in contenders}
    for number, name in interleaved(contenders, rounds):
        say(f"round {number}/{rounds} {name} ...")
        results[name].append(measure(number, name))
    return results


@dataclass(frozen=True)
class Spread:
    """The median of several figures and the range they fell in."""

    median: float
    low: float
    high: float
    count: int

    def text(self, digits: int = 2, unit: str = "", of: str = "rounds") -> str:
        """``1.23 (1.10-1.40 over 5 rounds)``; the range left out for a single figure."""
        value = f"{self.median:.{digits}f}{unit}"
        if self.count < 2:
            return f"{value} (one figure, no spread)"
        return f"{value} ({self.low:.{digits}f}-{self.high:.{digits}f} over {self.count} {of})"

    def short(self, digits: int = 2) -> str:
        """``1.23 (1.10-1.40)``, for a table whose heading says over how many rounds."""
        return f"{self.median:.{digits}f} ({self.low:.{digits}f}-{self.high:.{digits}f})"


def spread(values: Sequence[float]) -> Spread:
    """Median, lowest and highest of ``values``."""
    if not values:
        raise ValueError("no figures to summarise")
    return Spread(statistics.median(values), min(values), max(values), len(values))


def ratio_spread(numerators: Sequence[float], denominators: Sequence[float]) -> Spread:
    """The spread of per-round ratios: round i's numerator over round i's denominator."""
    if len(numerators) != len(denominators):
        raise ValueError("ratios pair the figures of the same rounds: the counts differ")
    return spread([a / b for a, b in zip(numerators, denominators, strict=True)])
