"""The worker's container image, built as ``scripts/deploy`` builds it: what it carries."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from recon_image.programs.cartesian import reconstruct_file
from scripts.phantoms.numeric import nrmse
from scripts.phantoms.scan import ScanSettings, simulate
from scripts.phantoms.twix_ve import write_ve
from tests.helpers.dciodvfy import dciodvfy_errors

pytestmark = pytest.mark.slow


REAL_TWIX = Path(__file__).resolve().parents[1] / "data" / "siemens-e11-gre.dat"


def in_image(images, image: str, script: str, *volume: str) -> str:
    """Run ``script`` with ``sh`` in a container of ``image``; its output."""
    mounts = [arg for spec in volume for arg in ("-v", spec)]
    answer = images.engine.run(
        ["run", "--rm", *mounts, "--entrypoint", "sh", image, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert answer.returncode == 0, answer.stderr
    return answer.stdout


def test_the_worker_image_carries_bart_and_the_yarra_modules_folder(images, worker_image):
    out = in_image(images, worker_image, 'bart version; echo "$YC_MODULES_DIR"; id -u')
    version, modules, uid = out.split()
    assert version.startswith("v0.")
    assert modules == "/opt/yarracloud/modules"
    assert uid == "10001"
    assert in_image(images, worker_image, f"test -d {modules} && echo yes").strip() == "yes"


def test_bart_in_the_worker_image_reads_the_real_scanner_file(images, worker_image, tmp_path):
    work = tmp_path / "work"
    work.mkdir(mode=0o777)
    work.chmod(0o777)  # the image's user writes here
    script = "cd /work && bart twixread -A /data/scan.dat ksp >/dev/null && sed -n 2p ksp.hdr"
    dims = in_image(
        images, worker_image, script, f"{REAL_TWIX}:/data/scan.dat:ro", f"{work}:/work"
    ).split()
    # 320 readout samples (2x oversampled), 160 lines, 2 coils: as tests/data/README.md says
    assert [int(d) for d in dims[:4]] == [320, 160, 1, 2]


@pytest.mark.parametrize("which", ["worker", "portal"])
def test_the_host_ca_bundle_given_to_the_build_stays_out_of_the_image(
    images, which: str, request
) -> None:
    image = request.getfixturevalue(f"{which}_image")
    bundle = os.environ.get("PIP_CERT")
    if not bundle or not Path(bundle).is_file():
        pytest.skip("this host gives pip no CA bundle (PIP_CERT), so no build secret was passed")
    data = Path(bundle).read_bytes()
    # every file of the bundle's size, hashed: a copy of it anywhere would show
    hashes = in_image(
        images,
        image,
        f"find / -xdev -type f -size {len(data)}c -exec sha256sum {{}} + 2>/dev/null;"
        " test ! -e /run/secrets/pip_cert; env",
    )
    assert hashlib.sha256(data).hexdigest() not in hashes
    assert "PIP_CERT" not in hashes


EXAMPLE_MODES = Path(__file__).resolve().parent / "modes"
TASK = "0f6c2b1e-7d3a-4e59-8a41-2c5d9e7b3f10"
# The worker's mode runner in the image, on the image's modules folder, bart and environment.
RUN_EXAMPLE_MODE = """
import os
from pathlib import Path
from recon_image.modes.modefile import load_mode
from recon_image.modes.runner import ModeJob, run_mode
scan = Path("/work/input/scan.dat")
job = ModeJob(
    task_id=os.environ["YC_TASK_UUID"], work_dir=Path("/work/job"), scan_file=scan,
    task_file=scan.with_suffix(".task"), param="",
    modules_dir=Path(os.environ["YC_MODULES_DIR"]), user_modules_dir=Path("/work/user"),
    modes_dir=Path("/modes"), env=dict(os.environ),
)
for path in run_mode(load_mode(Path("/modes/bart_example.mode")), job).files:
    print(path.relative_to("/work"))
"""


def run_example_mode(images, worker_image, scan: Path, work: Path) -> list[Path]:
    """The example BART mode, unchanged, in a container of the worker image; its DICOM files."""
    (work / "input").mkdir(parents=True)
    shutil.copy(scan, work / "input" / "scan.dat")
    for folder in (work, work / "input"):
        folder.chmod(0o777)  # the image's user writes here
    answer = images.engine.run(
        [
            "run", "--rm", "--env", f"YC_TASK_UUID={TASK}",
            "-v", f"{EXAMPLE_MODES}:/modes:ro", "-v", f"{work}:/work",
            worker_image, "python", "-c", RUN_EXAMPLE_MODE,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert answer.returncode == 0, answer.stdout + answer.stderr
    return [work / line for line in answer.stdout.split()]


@pytest.mark.parametrize("source", ["real E11 file", "4-slice phantom"])
def test_the_example_bart_mode_runs_unchanged_in_the_image_and_writes_valid_dicom(
    images, worker_image, tmp_path, source
):
    if source == "real E11 file":
        scan = REAL_TWIX
    else:
        phantom = simulate(ScanSettings(matrix=(64, 64, 4), coils=4, seed=5, marker=True))
        scan = write_ve(phantom, tmp_path / "phantom.dat")
    files = run_example_mode(images, worker_image, scan, tmp_path / "work")

    ours = reconstruct_file(scan, tmp_path / "ours", task_id=TASK)
    assert [f.name for f in files] == [f.name for f in ours]
    for path in files:
        assert dciodvfy_errors(path) == [], path.name
    theirs = [pydicom.dcmread(path) for path in files]
    reference = [pydicom.dcmread(path) for path in ours]
    for bart_ds, our_ds in zip(theirs, reference, strict=True):
        assert bart_ds.ImagePositionPatient == our_ds.ImagePositionPatient
        assert bart_ds.SeriesDescription == "BART FFT (root-sum-of-squares)"
    error = nrmse(
        np.stack([ds.pixel_array for ds in theirs]), np.stack([ds.pixel_array for ds in reference])
    )
    print(f"worker image, example BART mode on the {source}: NRMSE {error:.4%} (yc-cartesian)")
    assert error < 0.01
