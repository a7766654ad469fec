"""Corrupt and oversized raw files fail fast with the worker's own errors and a clear message."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from recon_image.errors import EXIT_BAD_INPUT, RawDataError, TooLarge
from recon_image.raw.read import read_raw
from recon_image.raw.twix import RAID_ENTRY
from scripts.phantoms.scan import ScanSettings, SimulatedScan, simulate


@pytest.fixture(scope="module")
def small_scan() -> SimulatedScan:
    return simulate(ScanSettings(dimension=2, matrix=(32, 32, 2), coils=4, noise_scans=2))


def _measurement(path: Path) -> tuple[int, int]:
    """Offset and length of the last (imaging) measurement of a VE file."""
    count = int(np.fromfile(path, dtype="<u4", count=2)[1])
    entries = np.fromfile(path, dtype=RAID_ENTRY, count=count, offset=8)
    return int(entries[-1]["offset"]), int(entries[-1]["length"])


def _first_readout(path: Path, fmt: str) -> int:
    """Byte offset of the first readout of the imaging measurement."""
    start = _measurement(path)[0] if fmt == "ve" else 0
    return start + int(np.fromfile(path, dtype="<u4", count=1, offset=start)[0])


def _read_error(path: Path, **options) -> RawDataError:
    with pytest.raises(RawDataError) as caught:
        read_raw(path, **options)
    error = caught.value
    assert error.exit_code == EXIT_BAD_INPUT
    print(f"\n{error}")
    return error


def _truncate(path: Path, size: int) -> None:
    with path.open("r+b") as file:
        file.truncate(size)


def _patch(path: Path, offset: int, data: bytes) -> None:
    with path.open("r+b") as file:
        file.seek(offset)
        file.write(data)


@pytest.mark.parametrize("fmt", ["ve", "vb"])
def test_file_cut_mid_readout(fmt: str, small_scan: SimulatedScan, write_raw) -> None:
    path = write_raw(fmt, small_scan)
    coils, samples = small_scan.samples.shape[1:]
    block = (192 + coils * (32 + 8 * samples)) if fmt == "ve" else coils * (128 + 8 * samples)
    last = _first_readout(path, fmt) + (len(small_scan.readouts) - 1) * block
    _truncate(path, last + block // 2)

    error = _read_error(path)

    assert error.offset == last
    assert "truncated" in error.problem
    assert f"needs {block} bytes" in error.problem


def test_ve_file_cut_mid_measurement_header(small_scan: SimulatedScan, write_raw) -> None:
    path = write_raw("ve", small_scan)
    offset, _ = _measurement(path)
    _truncate(path, offset + 300)

    error = _read_error(path)

    assert error.offset == offset
    assert "measurement header length" in error.problem


def test_vb_file_cut_mid_header(small_scan: SimulatedScan, write_raw) -> None:
    path = write_raw("vb", small_scan)
    _truncate(path, 200)

    error = _read_error(path)

    assert error.offset == 0
    assert "truncated" in error.problem


def test_random_bytes_are_not_raw_data(tmp_path: Path) -> None:
    path = tmp_path / "noise.dat"
    path.write_bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes())

    error = _read_error(path)

    assert error.offset == 0
    assert "neither a TWIX multi-RAID header" in error.problem


def test_text_file_is_not_raw_data(tmp_path: Path) -> None:
    path = tmp_path / "notes.dat"
    path.write_text("Scan notes: patient moved during the third sequence.\n" * 20)

    error = _read_error(path)

    assert error.offset == 0
    assert "HDF5" in error.problem


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.dat"
    path.write_bytes(b"")

    assert _read_error(path).offset == 0


def test_multi_raid_header_without_measurements(small_scan: SimulatedScan, write_raw) -> None:
    path = write_raw("ve", small_scan)
    _patch(path, 4, (0).to_bytes(4, "little"))

    error = _read_error(path)

    assert error.offset == 4
    assert "0 measurements" in error.problem


def test_measurement_header_with_no_buffers(small_scan: SimulatedScan, write_raw) -> None:
    path = write_raw("ve", small_scan)
    offset, _ = _measurement(path)
    _patch(path, offset + 4, (0).to_bytes(4, "little"))

    error = _read_error(path)

    assert error.offset == offset + 4
    assert "no buffers" in error.problem


@pytest.mark.parametrize("fmt", ["ve", "vb"])
def test_header_without_measyaps(fmt: str, small_scan: SimulatedScan, write_raw) -> None:
    path = write_raw(fmt, small_scan)
    raw = path.read_bytes()
    at = raw.rindex(b"MeasYaps\x00")
    _patch(path, at, b"MeasYapz")

    error = _read_error(path)

    assert "no MeasYaps" in error.problem


@pytest.mark.parametrize("fmt", ["ve", "vb"])
def test_readout_with_zero_channels(fmt: str, small_scan: SimulatedScan, write_raw) -> None:
    path = write_raw(fmt, small_scan)
    readout = _first_readout(path, fmt)
    _patch(path, readout + (50 if fmt == "ve" else 30), (0).to_bytes(2, "little"))

    error = _read_error(path)

    assert error.offset == readout
    assert "0 channels" in error.problem


@pytest.mark.parametrize("fmt", ["ve", "vb", "mrd"])
def test_kspace_larger_than_the_memory_allowed(
    fmt: str, small_scan: SimulatedScan, write_raw
) -> None:
    path = write_raw(fmt, small_scan)
    with pytest.raises(TooLarge) as caught:
        read_raw(path, memory_limit_bytes=100_000)
    message = str(caught.value)
    print(f"\n{message}")
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert "GiB" in message
    assert "larger instance" in message


def test_header_claiming_huge_dimensions_fails_before_allocating(
    small_scan: SimulatedScan, write_raw
) -> None:
    path = write_raw("vb", small_scan)
    raw = path.read_bytes()
    old = b"sKSpace.lPhaseEncodingLines              = 32\n"
    new = b"sKSpace.lPhaseEncodingLines = 2000000000".ljust(len(old) - 1) + b"\n"
    at = raw.index(old)
    _patch(path, at, new)

    with pytest.raises(TooLarge) as caught:
        read_raw(path)
    print(f"\n{caught.value}")
    assert "choose a larger instance size" in str(caught.value)


def test_truncated_mrd_file(small_scan: SimulatedScan, write_raw) -> None:
    path = write_raw("mrd", small_scan)
    _truncate(path, path.stat().st_size // 2)

    error = _read_error(path)

    assert "HDF5" in error.problem or "damaged" in error.problem


def test_hdf5_file_without_an_mrd_dataset(tmp_path: Path) -> None:
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as file:
        file["images"] = np.zeros((4, 4), dtype=np.float32)

    error = _read_error(path)

    assert "holds no measurement" in error.problem


def test_mrd_trajectory_the_worker_cannot_reconstruct(small_scan: SimulatedScan, write_raw) -> None:
    path = write_raw("mrd", small_scan)
    with h5py.File(path, "r+") as file:
        xml = file["dataset/xml"][0].decode()
        cartesian = "<trajectory>cartesian</trajectory>"
        assert cartesian in xml
        del file["dataset/xml"]
        spiral = xml.replace(cartesian, "<trajectory>spiral</trajectory>")
        file.create_dataset("dataset/xml", data=[spiral.encode()], dtype=h5py.string_dtype())

    error = _read_error(path)

    assert "trajectory is 'spiral'" in error.problem
    assert "Cartesian and golden-angle radial" in error.problem
