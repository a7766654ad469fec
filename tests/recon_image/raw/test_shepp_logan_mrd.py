"""The MRD Shepp-Logan that ISMRMRD's own tool makes reads and reconstructs to its phantom."""

from __future__ import annotations

import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

from recon_image.pipeline.cartesian import CartesianOptions, reconstruct
from recon_image.raw.read import read_raw
from scripts.phantoms.numeric import nrmse
from tests.helpers.unavailable import require_command

TOOL = "ismrmrd_generate_cartesian_shepp_logan"


@pytest.fixture(scope="module")
def shepp_logan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_command(TOOL, "ismrmrd-tools")
    folder = tmp_path_factory.mktemp("ismrmrd")
    subprocess.run(
        [TOOL, "--matrix", "64", "--coils", "4", "--noise-level", "0", "--output", "sl.h5"],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    return folder / "sl.h5"


def _stored(path: Path, name: str) -> np.ndarray:
    with h5py.File(path, "r") as file:
        return file[f"dataset/{name}"][()].view(np.complex64)


def test_tool_output_reads_and_matches_its_phantom(shepp_logan_file: Path) -> None:
    kspace = read_raw(shepp_logan_file)
    phantom = np.abs(_stored(shepp_logan_file, "phantom")[0])  # (64, 64)
    sensitivities = _stored(shepp_logan_file, "csm")[0]  # (coils, 64, 64)

    assert kspace.data.shape == (1, 4, 1, 64, 128)
    assert kspace.protocol.matrix == (64, 64, 1)
    assert kspace.protocol.readout_oversampling == 2.0
    assert kspace.sampled.all()

    coil_images = np.fft.fftshift(
        np.fft.ifft2(np.fft.ifftshift(kspace.data[0, :, 0], axes=(-2, -1))), axes=(-2, -1)
    )[..., 32:96]
    rss = np.sqrt(np.sum(np.abs(coil_images) ** 2, axis=0))
    # the tool's coil sensitivities are not normalised: the RSS image is the phantom
    # weighted by their root sum of squares, and the matched combination is the phantom itself
    weight = np.sqrt(np.sum(np.abs(sensitivities) ** 2, axis=0))
    matched = np.abs(np.sum(np.conj(sensitivities) * coil_images, axis=0)) / weight**2
    rss_error = nrmse(rss, phantom * weight)
    matched_error = nrmse(matched, phantom)
    print(
        f"\nISMRMRD Shepp-Logan: RSS against phantom x RSS(csm) NRMSE {100 * rss_error:.2g}%, "
        f"sensitivity-matched combination against the phantom {100 * matched_error:.2g}%, "
        f"bare RSS against the bare phantom {100 * nrmse(rss, phantom):.3g}%"
    )
    assert rss_error <= 0.01
    assert matched_error <= 0.01


def test_tool_output_through_the_whole_pipeline(shepp_logan_file: Path) -> None:
    phantom = np.abs(_stored(shepp_logan_file, "phantom")[0])
    weight = np.sqrt(np.sum(np.abs(_stored(shepp_logan_file, "csm")[0]) ** 2, axis=0))
    image = reconstruct(read_raw(shepp_logan_file), CartesianOptions())
    error = nrmse(image[0, 0], phantom * weight)
    print(f"\nISMRMRD Shepp-Logan through the pipeline (RSS): NRMSE {100 * error:.2g}%")
    assert error <= 0.01
