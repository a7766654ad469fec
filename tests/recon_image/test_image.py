"""The worker's container image, built as ``scripts/deploy`` builds it: what it carries."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

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
