from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recon_image.pipeline import fft, wisdom
from recon_image.pipeline.cartesian import transform_problems
from scripts.bench import worker as bench_worker


@pytest.mark.parametrize("shape", [(6, 8, 10), (5, 8, 7)])
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_centred_transform_matches_shifted_numpy(shape, direction):
    rng = np.random.default_rng(1)
    data = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    axes = (1, 2)
    transform = np.fft.fftn if direction == "forward" else np.fft.ifftn
    expected = np.fft.fftshift(transform(np.fft.ifftshift(data, axes=axes), axes=axes), axes=axes)
    result = fft.centred(data.copy(), axes, direction)
    error = np.abs(result - expected).max() / np.abs(expected).max()
    print(f"centred {direction} {shape}: max relative error {error:.1e}")
    assert error < 1e-5


def test_plans_are_made_once_and_reused():
    first = fft.plan((4, 16, 32), (1, 2), "backward", 1)
    again = fft.plan((4, 16, 32), (2, 1), "backward", 1)
    assert again is first
    assert fft.plan((4, 16, 32), (1, 2), "backward", 2) is not first


def test_plan_runs_in_place_on_aligned_and_unaligned_arrays():
    rng = np.random.default_rng(2)
    data = (rng.standard_normal((4, 16, 32)) + 1j).astype(np.complex64)
    expected = np.fft.ifftn(data, axes=(1, 2)) * (16 * 32)
    plan = fft.plan(data.shape, (1, 2), "backward", 1)
    aligned = fft.empty_aligned(data.shape)
    aligned[...] = data
    assert plan.run(aligned) is aligned
    raw = np.empty(data.size * 8 + 8, dtype=np.uint8)[8:].view(np.complex64).reshape(data.shape)
    raw[...] = data
    plan.run(raw)
    assert np.allclose(aligned, expected, atol=1e-3)
    assert np.allclose(raw, expected, atol=1e-3)


def test_wisdom_saves_and_loads(tmp_path: Path):
    fft.plan((2, 24, 48), (1, 2), "backward", 1)
    path = tmp_path / "fftw.wisdom"
    fft.save_wisdom(path)
    assert path.stat().st_size > 0
    assert fft.load_wisdom(path) is True


def test_missing_or_foreign_wisdom_is_reported_not_raised(tmp_path: Path):
    assert fft.load_wisdom(tmp_path / "absent") is False
    (tmp_path / "foreign").write_bytes(b"not wisdom at all")
    assert fft.load_wisdom(tmp_path / "foreign") is False
    (tmp_path / "cut").write_bytes(fft._WISDOM_MAGIC + b"\xff\xff\x00\x00abc")
    assert fft.load_wisdom(tmp_path / "cut") is False


JOB = """
import sys
from recon_image.pipeline import fft
from recon_image.pipeline.cartesian import transform_problems
loaded = fft.load_wisdom(sys.argv[1]) if sys.argv[1] != "-" else False
problems = []
for wide in (64, 32):  # the readout 2x oversampled, and not
    first, rest = transform_problems(
        three_d=True, z=4, lines=16, wide=wide, columns=32, lines_in_fft=True
    )
    problems += first + rest
print(loaded, [fft.plan(s, a, "backward", 1).measured for s, a in problems])
"""


def _job_plans(wisdom: str) -> str:
    """A fresh process (wisdom is per process) planning 4 x 16 x 32 slabs as a job does."""
    return subprocess.run(
        [sys.executable, "-c", JOB, wisdom], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_a_job_takes_measured_plans_from_the_images_wisdom(tmp_path: Path):
    out = tmp_path / "image.wisdom"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "recon_image.pipeline.wisdom",
            str(out),
            "--slab",
            "4,16,32",
            "--only",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    print(done.stdout.strip())
    # oversampled: the readout, then partitions and lines (zero-filled) or partitions alone;
    # not: all three axes, or partitions and readout
    assert "planned 5 transforms" in done.stdout
    assert _job_plans(str(out)) == "True [True, True, True]"
    assert _job_plans("-") == "False [False, False, False]"


def test_a_shape_without_wisdom_is_estimated_and_transforms_right():
    rng = np.random.default_rng(3)
    shape = (3, 10, 14)  # planned nowhere else, so no wisdom in this process
    data = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    plan = fft.plan(shape, (1, 2), "forward", 1)
    assert plan.measured is False
    expected = np.fft.fftn(data, axes=(1, 2))
    assert np.allclose(plan.run(data.copy()), expected, atol=1e-3)


def test_the_supported_protocols_include_the_benchmarked_3d_scans():
    problems = set(wisdom.problems_of(wisdom.supported_protocols()))
    for columns, lines, partitions in bench_worker.MATRICES.values():
        first, rest = transform_problems(
            three_d=True,
            z=partitions,
            lines=lines,
            wide=2 * columns,
            columns=columns,
            lines_in_fft=True,
        )
        assert set(first + rest) <= problems
