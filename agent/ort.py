"""The folders the Yarra ORT client shares with the agent in cloud mode.

ORT exports a scan into ``cloud/out/`` (``{uuid}.dat``, adjustments
``{uuid}_{i}.dat``), writes ``cloud/phi/{uuid}.phi`` and, last, ``cloud/out/{uuid}.task``
while it holds ``cloud/out/{uuid}.lock``. Results arrive in ``cloud/in/{uuid}/``
(an ``INCOMPLETE`` marker while downloading; DICOM under ``output_files/``) and
finished ``.phi`` files move to ``cloud/phi_archive/``. The agent keeps one journal
per task in ``cloud/journal/{uuid}.json``, beside the folders ORT knows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from agent.errors import BadTask, ConfigError
from agent.private import private_folder
from contracts.taskfile import TaskFileError, read_task_file

INCOMPLETE = "INCOMPLETE"
OUTPUT_FILES = "output_files"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


@dataclass(frozen=True)
class TaskFiles:
    """One task's files in ``cloud/out``, as its task file names them.

    Attributes
    ----------
    uuid
        The task's UUID (its file names' stem).
    task_file
        ``cloud/out/{uuid}.task``.
    scan_file
        The raw scan (``ScanFile``).
    adjustments
        The adjustment scans (``[AdjustmentFiles] %00, %01, …``), in order.
    recon_mode
        ``[Task] ReconMode``.
    """

    uuid: str
    task_file: Path
    scan_file: Path
    adjustments: tuple[Path, ...]
    recon_mode: str

    @property
    def raw_files(self) -> tuple[Path, ...]:
        """The scan, then the adjustment scans: every file to upload before the task file."""
        return (self.scan_file, *self.adjustments)


class OrtFolders:
    """The ``cloud/`` folders under ``base``; created when missing.

    Raises
    ------
    ConfigError
        When a folder cannot be created.
    """

    def __init__(self, base: Path) -> None:
        self.base = Path(base)
        cloud = self.base / "cloud"
        self.out = cloud / "out"
        self.inbox = cloud / "in"
        self.phi = cloud / "phi"
        self.phi_archive = cloud / "phi_archive"
        self.journal = cloud / "journal"
        for folder in (self.out, self.inbox, self.phi, self.phi_archive, self.journal):
            try:
                folder.mkdir(parents=True, exist_ok=True)
                if folder in (self.phi, self.phi_archive):
                    private_folder(folder)
            except OSError as exc:
                raise ConfigError(
                    f"cannot create the folder {folder}: {exc.strerror}; check [folders] base"
                    " and that the agent's user may write there"
                ) from None

    def task_file(self, uuid: str) -> Path:
        return self.out / f"{uuid}.task"

    def lock_file(self, uuid: str) -> Path:
        return self.out / f"{uuid}.lock"

    def phi_file(self, uuid: str) -> Path:
        return self.phi / f"{uuid}.phi"

    def journal_file(self, uuid: str) -> Path:
        return self.journal / f"{uuid}.json"

    def result_dir(self, uuid: str) -> Path:
        """``cloud/in/{uuid}``: where the task's results are downloaded."""
        return self.inbox / uuid

    def output_files(self, uuid: str) -> Path:
        """``cloud/in/{uuid}/output_files``: the task's DICOM images."""
        return self.result_dir(uuid) / OUTPUT_FILES

    def download_complete(self, uuid: str) -> bool:
        """Whether the results are all there: the folder exists without an ``INCOMPLETE`` marker."""
        folder = self.result_dir(uuid)
        return folder.is_dir() and not (folder / INCOMPLETE).exists()

    def ready_tasks(self) -> list[str]:
        """UUIDs whose task file exists, whose lock does not, and whose ``.phi`` exists.

        Sorted by the task file's age, oldest first, so tasks move in the order ORT
        queued them.
        """
        ready = []
        for task_file in self.out.glob("*.task"):
            uuid = task_file.stem
            if not _UUID.match(uuid):
                continue
            if self.lock_file(uuid).exists() or not self.phi_file(uuid).exists():
                continue
            try:
                queued = task_file.stat().st_mtime
            except FileNotFoundError:
                continue
            ready.append((queued, uuid))
        return [uuid for _, uuid in sorted(ready)]

    def orphan_phi(self) -> list[str]:
        """UUIDs with a ``.phi`` file but no task file and no lock: ORT never finished them."""
        return sorted(
            path.stem
            for path in self.phi.glob("*.phi")
            if not self.task_file(path.stem).exists() and not self.lock_file(path.stem).exists()
        )

    def task_files(self, uuid: str) -> TaskFiles:
        """The task file and the raw files it names, each checked to exist.

        Raises
        ------
        BadTask
            When the task file is unreadable or not a cloud-mode task file, names a
            path instead of a file, or a file it names is missing.
        """
        task_file = self.task_file(uuid)
        try:
            data = task_file.read_bytes()
        except FileNotFoundError:
            raise BadTask(f"task {uuid}: its task file {task_file} is missing") from None
        except OSError as exc:
            raise BadTask(f"task {uuid}: cannot read {task_file}: {exc.strerror}") from None
        try:
            task = read_task_file(data, str(task_file))
        except TaskFileError as exc:
            raise BadTask(f"{exc}; requeue the scan from ORT") from None
        files = TaskFiles(
            uuid=uuid,
            task_file=task_file,
            scan_file=self.out / task.scan_file,
            adjustments=tuple(self.out / name for name in task.adjustment_files),
            recon_mode=task.recon_mode,
        )
        for path in files.raw_files:
            if not path.is_file():
                raise BadTask(
                    f"task {uuid}: the raw file {path.name} that its task file names is missing"
                    f" from {self.out}; export the scan again from ORT"
                )
        return files
