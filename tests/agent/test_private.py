"""What the agent writes, moves or archives with patient data is its user's alone (POSIX).

Each test starts from the most open case: a umask of 0 and inputs that arrived
world-readable (ORT's ``.phi`` files, the worker's images, folders made by
someone else), and checks the mode of what the agent leaves.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.delivery import copy_series
from agent.journal import TaskJournal
from agent.ort import OrtFolders
from agent.phi import PhiFile, archive
from agent.reidentify import reidentify_series
from agent.status import TaskState
from contracts.destination import Destination
from tests.agent.delivery.series import patient, worker_series
from tests.agent.test_phi import ORT_PHI, UUID

pytestmark = pytest.mark.skipif(os.name != "posix", reason="permission bits are POSIX's")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    """A umask that masks nothing: whatever is private was made so by the agent."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def ort_phi(tmp_path: Path) -> Path:
    """A ``.phi`` file as ORT leaves it: world-readable, in a world-readable folder."""
    folders = tmp_path / "cloud" / "phi"
    folders.mkdir(parents=True, mode=0o755)
    path = folders / f"{UUID}.phi"
    path.write_text(ORT_PHI)
    path.chmod(0o644)
    return path


def test_a_phi_file_the_agent_saves_is_0600(ort_phi: Path) -> None:
    phi = PhiFile.load(ort_phi)
    phi.set_status(result="Completed")
    phi.save()
    assert mode(ort_phi) == 0o600


def test_an_archived_phi_file_is_0600_in_a_0700_archive(ort_phi: Path, tmp_path: Path) -> None:
    archive_dir = tmp_path / "cloud" / "phi_archive"
    archive_dir.mkdir(mode=0o755)
    archived = archive(ort_phi, archive_dir)
    assert mode(archived) == 0o600 and mode(archive_dir) == 0o700


def test_the_ort_phi_folders_are_0700_whatever_they_were(tmp_path: Path) -> None:
    for name in ("phi", "phi_archive"):
        (tmp_path / "cloud" / name).mkdir(parents=True, mode=0o777)
    folders = OrtFolders(tmp_path)
    assert mode(folders.phi) == 0o700 and mode(folders.phi_archive) == 0o700


def test_reidentified_images_are_0600_in_a_0700_folder(tmp_path: Path) -> None:
    files = worker_series(tmp_path / "cloud")
    for path in files:
        path.chmod(0o644)
    out = tmp_path / "reidentified"
    written = reidentify_series(files, patient(), out)
    assert {mode(path) for path in written} == {0o600} and mode(out) == 0o700


def test_images_delivered_to_a_folder_are_0600_in_a_0700_subfolder(tmp_path: Path) -> None:
    files = reidentify_series(worker_series(tmp_path / "cloud"), patient(), tmp_path / "home")
    for path in files:
        path.chmod(0o644)
    share = tmp_path / "share"
    share.mkdir(mode=0o755)
    delivered = copy_series(files, Destination("share", "smb", location=str(share)), UUID)
    assert {mode(path) for path in delivered.iterdir()} == {0o600}
    assert mode(delivered) == 0o700


def test_the_task_journal_and_state_are_0600_in_a_0700_task_folder(tmp_path: Path) -> None:
    journal = tmp_path / "journal" / f"{UUID}.json"
    journal.parent.mkdir()
    TaskJournal(journal).done("deidentify", recon_mode="yc_cartesian")
    task_folder = tmp_path / "agent" / UUID
    TaskState(task_folder).update(stage="upload")
    assert mode(journal) == 0o600
    assert mode(task_folder) == 0o700
    assert {mode(path) for path in task_folder.iterdir()} == {0o600}
