"""The images' figures the worker bench prints: sizes, and start-up as container and process."""

from __future__ import annotations

import re

import pytest

from scripts.bench.images import report

pytestmark = pytest.mark.slow


def test_the_bench_prints_image_sizes_and_both_start_ups(
    images, worker_image, portal_image, capsys
) -> None:
    refs = {"base": images.base, "worker": worker_image, "portal": portal_image}
    report(images.engine, refs, rounds=2)

    out = capsys.readouterr().out
    for name in refs:
        assert re.search(rf"^  {name}\s+[\d,]+ MB  ", out, re.MULTILINE), out
    for contender in ("container", "subprocess"):
        assert re.search(rf"^  {contender}\s+[\d.]+ \([\d.]+-[\d.]+\)$", out, re.MULTILINE), out
    assert "container / subprocess:" in out
