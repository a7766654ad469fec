"""Round-by-round interleaving and the spread of figures, as every bench uses them."""

from __future__ import annotations

import pytest

from scripts.bench.rounds import interleaved, ratio_spread, run_rounds, spread


def test_two_contenders_run_a_b_b_a() -> None:
    assert [name for _, name in interleaved(["a", "b"], 4)] == list("abbaabba")
    assert [number for number, _ in interleaved(["a", "b"], 2)] == [1, 1, 2, 2]


def test_three_contenders_reverse_every_other_round() -> None:
    assert [name for _, name in interleaved(["a", "b", "c"], 2)] == list("abccba")


def test_run_rounds_measures_in_the_interleaved_order_and_groups_by_contender() -> None:
    calls: list[tuple[int, str]] = []
    said: list[str] = []

    def measure(number: int, name: str) -> str:
        calls.append((number, name))
        return f"{name}{number}"

    results = run_rounds(["plain", "agent"], 3, measure, say=said.append)

    assert calls == interleaved(["plain", "agent"], 3)
    assert results == {
        "plain": ["plain1", "plain2", "plain3"],
        "agent": ["agent1", "agent2", "agent3"],
    }
    assert said[0] == "round 1/3 plain ..." and said[3] == "round 2/3 plain ..."


def test_spread_prints_the_median_and_range() -> None:
    assert spread([3.0, 1.0, 2.0]).text() == "2.00 (1.00-3.00 over 3 rounds)"
    assert spread([1.5]).text(1, " s") == "1.5 s (one figure, no spread)"
    assert spread([1.0, 2.0]).text(0, of="tasks") == "2 (1-2 over 2 tasks)"
    assert spread([1.0, 2.0, 4.0]).short(1) == "2.0 (1.0-4.0)"


def test_a_ratio_pairs_the_figures_of_the_same_round() -> None:
    ratio = ratio_spread([2.0, 3.0, 8.0], [1.0, 3.0, 4.0])

    assert (ratio.median, ratio.low, ratio.high) == (2.0, 1.0, 2.0)
    with pytest.raises(ValueError, match="counts differ"):
        ratio_spread([1.0], [1.0, 2.0])
