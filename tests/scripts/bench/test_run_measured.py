"""A measured command's peak memory is its own, however large the bench that runs it."""

from __future__ import annotations

import os
import sys

import pytest

from scripts.bench.transfer import run_measured

MB = 1e6


def test_the_peak_is_the_commands_own_not_the_benchs() -> None:
    held = bytearray(300 * 1000 * 1000)  # this process's peak, which a forked child would inherit
    held[::4096] = b"x" * len(held[::4096])

    _, seconds, small = run_measured(["true"], dict(os.environ))
    stdout, _, large = run_measured(
        [
            sys.executable,
            "-c",
            "b = bytearray(150 * 1000 * 1000); b[::4096] = b'x' * len(b[::4096]); print('done')",
        ],
        dict(os.environ),
    )

    assert small * 2**20 < 50 * MB
    assert 150 * MB < large * 2**20 < 250 * MB
    assert stdout == "done\n"
    assert seconds >= 0


def test_a_failing_command_says_so() -> None:
    with pytest.raises(RuntimeError, match=r"failed \(3\)"):
        run_measured([sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ))
