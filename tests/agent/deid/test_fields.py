"""The sweep: every spelling of a replaced value, in any case, where it stands alone."""

from __future__ import annotations

from agent.deid.fields import sweep, sweep_pattern


def test_spellings_are_found_in_any_case_standing_alone_and_longest_first():
    text = "DOE JANE; jane doe; x20210622; 2021-06-22; 120210622; Doe^Janet; 22.06.2021"
    found = [r.original for r in sweep(text, sweep_pattern(["Doe^Jane", "20210622"]))]
    assert found == ["DOE JANE", "jane doe", "20210622", "2021-06-22", "22.06.2021"]


def test_matches_do_not_overlap_and_the_longest_at_a_place_wins():
    text = "6.0.66327775 and 66327775"
    spans = sweep_pattern(["6.0.66327775", "66327775"]).spans(text)
    assert [text[a:b] for a, b in spans] == ["6.0.66327775", "66327775"]


def test_nothing_to_sweep_for():
    assert sweep_pattern(["", "xx", "abc"]) is None
    assert sweep("anything", None) == []
