"""Folder delivery: the series appears complete under the subfolder, or not at all."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.delivery import deliver
from agent.delivery.destination import destination_from_config
from agent.delivery.folder import copy_series
from agent.errors import DeliveryError
from contracts.destination import Destination
from tests.agent.delivery.series import TASK_ID, worker_series


def _share(location: Path) -> Destination:
    return destination_from_config(
        {"method": "smb", "name": "Research share", "location": str(location)}
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def unwritable(tmp_path: Path) -> Iterator[Path]:
    """A folder the agent may not write into: read-only by mode, or sysfs when run as root."""
    if os.geteuid() == 0:
        yield Path("/sys/fs")
        return
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


def test_the_series_lands_complete_under_the_subfolder(tmp_path: Path) -> None:
    files = worker_series(tmp_path / "images")
    share = tmp_path / "share"
    share.mkdir()
    delivered = copy_series(files, _share(share), TASK_ID)
    assert delivered == share / TASK_ID
    assert {p.name: _digest(p) for p in delivered.iterdir()} == {p.name: _digest(p) for p in files}
    assert sorted(p.name for p in share.iterdir()) == [TASK_ID]


def test_delivering_again_leaves_one_copy_and_no_leftovers(tmp_path: Path) -> None:
    files = worker_series(tmp_path / "images")
    share = tmp_path / "share"
    share.mkdir()
    (share / f".{TASK_ID}.partial-0123abcd").mkdir()  # an interrupted earlier delivery
    (share / f".{TASK_ID}.partial-0123abcd" / "S001_I00001.dcm").write_bytes(b"half")
    deliver(files[:1], _share(share), subfolder=TASK_ID)
    deliver(files, _share(share), subfolder=TASK_ID)
    assert sorted(p.name for p in share.iterdir()) == [TASK_ID]
    assert sorted(p.name for p in (share / TASK_ID).iterdir()) == sorted(p.name for p in files)


def test_an_unwritable_location_is_a_delivery_error_naming_the_destination(
    tmp_path: Path, unwritable: Path
) -> None:
    files = worker_series(tmp_path / "images", n_slices=1)
    before = sorted(p.name for p in unwritable.iterdir())
    with pytest.raises(DeliveryError, match=r"'Research share'.*cannot write") as raised:
        deliver(files, _share(unwritable), subfolder=TASK_ID)
    assert str(unwritable) in str(raised.value)
    assert sorted(p.name for p in unwritable.iterdir()) == before


def test_a_share_not_mounted_is_a_delivery_error_and_nothing_is_created(tmp_path: Path) -> None:
    files = worker_series(tmp_path / "images", n_slices=1)
    missing = tmp_path / "mnt" / "pacs-share"
    with pytest.raises(DeliveryError, match="does not exist or is not a folder"):
        deliver(files, _share(missing), subfolder=TASK_ID)
    assert not missing.exists()
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(DeliveryError, match="mount the share"):
        deliver(files, _share(a_file), subfolder=TASK_ID)
