"""One task's way from the ORT folders to the PACS, one journaled step at a time.

:class:`TaskPipeline` runs a task's steps in order — de-identify, upload the raw files
(patched while read), upload the de-identified task file last, ``v1/job_submit``, poll
``v1/jobs``, download and verify the results, re-identify, deliver to each destination,
``v1/job_delivered``, archive the ``.phi`` — and records each finished step in the task's
journal, so an agent that is killed and restarted begins at the first step not done and
never repeats a finished one. A step that has to wait (the reconstruction still runs, a
PACS is down, the cloud answered 5xx) does not hold a thread: :meth:`TaskPipeline.run`
returns :class:`Outcome` ``wait`` with the time to come back, and the service runs other
tasks meanwhile.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import traceback
import uuid as uuids
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from agent.api import CloudApi
from agent.deid.mrd import deidentify_mrd
from agent.deid.taskfile import deidentify_task_file, with_task_uuid
from agent.deid.twix import deidentify_twix
from agent.delivery import deliver
from agent.errors import AgentError, BadTask, CloudError, CloudForgot, DeliveryError
from agent.journal import TaskJournal
from agent.observability import register_identity
from agent.ort import OrtFolders
from agent.phi import PhiFile, archive
from agent.private import private_folder
from agent.reidentify import reidentify_series
from agent.status import COMPLETED, FAILED, PROCESSING_ERROR, TaskState, agent_root
from contracts.destination import Destination
from contracts.task_status import ENDS, SETTLED
from transfer.download import download_prefix
from transfer.errors import AuthError, TransferError
from transfer.integrity import sha256_file
from transfer.progress import Progress
from transfer.upload import upload_file

logger = logging.getLogger("yarracloud.agent")

STEPS = (
    "deidentify",
    "upload",
    "upload_task",
    "submit",
    "poll",
    "download",
    "reidentify",
    "deliver",
    "delivered",
    "archive",
)
"""The steps of a task, in order; ``before_step`` hooks receive these names."""

MRD_SUFFIXES = {".h5", ".hdf5", ".mrd"}
EXAM_DATE = "agent.exam_date"
EXAM_TIME = "agent.exam_time"
"""Keys of the ``.phi`` file's ``[REPLACED]`` section under which the exam's moment is kept."""

BeforeStep = Callable[[str, str], None]


class Wait(Exception):
    """Raised by a step that cannot finish yet; the task comes back after ``seconds``."""

    def __init__(self, seconds: float, reason: str = "") -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.reason = reason


@dataclass(frozen=True)
class Outcome:
    """How a call to :meth:`TaskPipeline.run` ended.

    ``done``: every step finished; ``wait``: come back after ``wait_seconds``;
    ``failed``: stopped by an error retrying cannot fix (``message`` says what to do);
    ``stopped``: the agent is shutting down, the next start resumes.
    """

    state: Literal["done", "wait", "failed", "stopped"]
    wait_seconds: float = 0.0
    message: str = ""


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: attempt ``n`` (from 1) waits ``min(cap, first * factor**(n-1))``."""

    first: float = 1.0
    factor: float = 2.0
    cap: float = 300.0

    def delay(self, attempt: int) -> float:
        return min(self.cap, self.first * self.factor ** max(0, attempt - 1))


@dataclass
class CloudAccount:
    """What ``v1/user_status`` tells about this agent's user, asked once and kept."""

    api: CloudApi
    _answer: dict[str, Any] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self) -> dict[str, Any]:
        with self._lock:
            if self._answer is None:
                answer = self.api.user_status()
                if not answer.get("can_submit_jobs", False):
                    reason = answer.get("reason") or "the cloud does not accept jobs from this user"
                    raise CloudError(f"cannot submit jobs: {reason}", transient=True)
                self._answer = answer
            return self._answer


@dataclass
class AgentContext:
    """Everything a task's steps need, shared by every task of one agent.

    Parameters
    ----------
    base
        The ORT base folder (holding ``cloud/out``, ``cloud/in`` …).
    api, s3
        The v1 API client and a boto3 S3 client signed with the same key.
    destinations
        The config's ``[[destination]]`` entries: the only places images may go; the
        cloud's ``v1/mode_destinations`` chooses among them by name.
    bandwidth_bytes_per_second
        Upload and download cap; None: no cap.
    poll_seconds
        The longest wait between two ``v1/jobs`` polls of one task.
    before_step
        Called as ``before_step(uuid, step)`` before each step runs (a test hook).
    stopping
        Tells whether the agent is shutting down; checked between steps.
    """

    base: Path
    api: CloudApi
    s3: Any
    destinations: Sequence[Destination] = ()
    bandwidth_bytes_per_second: float | None = None
    poll_seconds: float = 10.0
    before_step: BeforeStep | None = None
    stopping: Callable[[], bool] = lambda: False
    retry_backoff: Backoff = field(default_factory=lambda: Backoff(2.0, 2.0, 300.0))
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def __post_init__(self) -> None:
        self.folders = OrtFolders(self.base)
        self.account = CloudAccount(self.api)


class TaskPipeline:
    """The steps of one task (``uuid``), resumable from its journal."""

    def __init__(self, context: AgentContext, uuid: str) -> None:
        self.ctx = context
        self.uuid = uuid
        private_folder(agent_root(context.base))
        self.folder = private_folder(agent_root(context.base) / uuid)
        self.journal = TaskJournal(context.folders.journal_file(uuid))
        self.state = TaskState(self.folder)
        if self.state.get("created") is None:
            self.state.update(created=context.now().timestamp())
        self.log = logging.LoggerAdapter(logger, {"task_id": uuid})

    # -- running ---------------------------------------------------------------------

    def run(self) -> Outcome:
        """Run every step not yet done, until one waits, fails or all are done."""
        for step in STEPS:
            if self.journal.is_done(step):
                continue
            if self.ctx.stopping():
                return Outcome("stopped")
            if self.ctx.before_step is not None:
                self.ctx.before_step(self.uuid, step)
            self.state.update(stage=step, retry_at=None)
            try:
                facts = getattr(self, f"_{step}")() or {}
            except Wait as wait:
                return self._wait(step, wait)
            except CloudForgot as error:
                self.state.update(restart_from="upload")
                return self._fail(step, str(error))
            except (CloudError, TransferError, DeliveryError, OSError) as error:
                if _transient(error):
                    attempt = self.state.count_attempt(step)
                    delay = self.ctx.retry_backoff.delay(attempt)
                    self._count_retry(step, attempt)
                    self.log.warning(
                        "step %s failed (attempt %d), retrying in %.0f s: %s",
                        step,
                        attempt,
                        delay,
                        _safe_message(error),
                    )
                    return self._wait(step, Wait(delay, _safe_message(error)))
                return self._fail(step, _safe_message(error))
            except AgentError as error:
                return self._fail(step, str(error))
            except Exception as error:
                log_internal_error(self.log, f"step {step}", error)
                return self._fail(
                    step,
                    f"internal error in step {step} ({type(error).__name__});"
                    " see the agent's log, then run 'yarracloud-agent retry' with this UUID",
                )
            self.journal.done(step, **facts)
            self.state.reset_attempts(step)
            self.state.update(error="")
            self.log.info("step %s done", step)
        ended = self.ctx.now().timestamp()
        if self.journal.facts("archive").get("result") == "completed":
            self.state.update(stage=COMPLETED, retry_at=None, ended=ended)
        else:
            reason = self.journal.facts("poll").get("message", "")
            self.state.update(stage=PROCESSING_ERROR, retry_at=None, error=reason, ended=ended)
        return Outcome("done")

    def _wait(self, step: str, wait: Wait) -> Outcome:
        retry_at = self.ctx.now().timestamp() + wait.seconds
        self.state.update(retry_at=retry_at, error=wait.reason if step != "poll" else "")
        return Outcome("wait", wait.seconds, wait.reason)

    def _count_retry(self, step: str, attempt: int) -> None:
        """Keep the ``.phi`` file's ``[STATUS] RETRY_*`` counts as ORT shows them."""
        if step in ("upload", "upload_task"):
            self._phi_update(lambda phi: phi.set_status(retry_upload=attempt))
        elif step == "download":
            self._phi_update(lambda phi: phi.set_status(retry_download=attempt))

    def _fail(self, step: str, message: str) -> Outcome:
        self.log.error("step %s failed: %s", step, message)
        self.state.update(stage=FAILED, failed_step=step, error=message, retry_at=None)
        self._phi_update(lambda phi: phi.set_status(result=f"Error: {message}"))
        return Outcome("failed", message=message)

    # -- helpers -----------------------------------------------------------------------

    @property
    def phi_path(self) -> Path:
        return self.ctx.folders.phi / f"{self.uuid}.phi"

    def _phi_update(self, change: Callable[[PhiFile], None]) -> None:
        """Apply ``change`` to the task's ``.phi`` and save it, if the file is still there."""
        if not self.phi_path.exists():
            return
        phi = PhiFile.load(self.phi_path)
        change(phi)
        phi.save()

    def _phi_log(self, event: str) -> None:
        when = self.ctx.now()
        self._phi_update(lambda phi: phi.log(event, when))

    def _register_identity(self, phi: PhiFile | None = None) -> None:
        """Have error reports redact this task's patient values (see ``agent.observability``)."""
        if phi is None:
            if not self.phi_path.exists():
                return
            phi = PhiFile.load(self.phi_path)
        register_identity(
            [phi.get("PHI", key) for key in ("NAME", "DOB", "MRN", "ACC")]
            + list(phi.replaced().values())
        )

    @property
    def cloud_uuid(self) -> str:
        """The UUID the cloud knows the task by (see :func:`cloud_uuid_of`)."""
        return cloud_uuid_of(self.journal, self.uuid)

    def _prefix(self) -> str:
        return f"{self.ctx.account.get()['username']}/{self.cloud_uuid}/"

    def _bandwidth(self) -> float | None:
        return self.ctx.bandwidth_bytes_per_second

    def _progress(self, report: Progress) -> None:
        self.state.progress(report.done, report.total)

    # -- the steps ---------------------------------------------------------------------

    def _deidentify(self) -> dict[str, Any]:
        files = self.ctx.folders.task_files(self.uuid)
        if not self.phi_path.exists():
            raise BadTask(f"task {self.uuid} has no .phi file in {self.ctx.folders.phi}")
        self._register_identity()
        original_task = files.task_file.read_bytes()
        deid_dir = self.folder / "deid"
        shutil.rmtree(deid_dir, ignore_errors=True)
        private_folder(deid_dir)
        uploads: list[dict[str, Any]] = []
        replaced: dict[str, str] = {}
        results = []
        for number, path in enumerate(files.raw_files):
            if path.suffix.lower() in MRD_SUFFIXES:
                copy = deid_dir / path.name
                result = deidentify_mrd(path, copy)
                source = copy
            else:
                result = deidentify_twix(path)
                source = path
            info = source.stat()
            uploads.append(
                {
                    "name": path.name,
                    "source": str(source),
                    "patches": [[offset, data.hex()] for offset, data in result.patches],
                    "stat": [info.st_size, info.st_mtime_ns],
                }
            )
            label = "" if number == 0 else f"{path.name}:"
            replaced.update({f"{label}{key}": value for key, value in result.replaced.items()})
            results.append(result)
        task_copy = deid_dir / files.task_file.name
        task_copy.write_bytes(deidentify_task_file(original_task))
        main = results[0]
        # The exam's date and time are identity too: they are kept in the vault alone.
        replaced[EXAM_DATE] = main.exam_date
        replaced[EXAM_TIME] = main.exam_time
        register_identity(replaced.values())
        self._phi_update(lambda phi: phi.record_replaced(replaced))
        size = sum(Path(item["source"]).stat().st_size for item in uploads)
        return {
            "files": uploads,
            "task_file": str(task_copy),
            "recon_mode": files.recon_mode,
            "software_version": main.software_version,
            "size": size,
        }

    def _upload(self) -> dict[str, Any]:
        plan = self.journal.facts("deidentify")
        bucket = self.ctx.account.get()["in_bucket"]
        prefix = self._prefix()
        if not self.journal.is_done("upload_begin"):
            self._phi_log("UPLOAD_BEGIN")
            self.journal.done("upload_begin")
        journals = self.folder / "transfers"
        journals.mkdir(exist_ok=True)
        self._check_unchanged(plan)
        for item in plan["files"]:
            step = f"upload:{item['name']}"
            if self.journal.is_done(step):
                continue
            result = upload_file(
                self.ctx.s3,
                item["source"],
                bucket,
                prefix + item["name"],
                patches=[(offset, bytes.fromhex(data)) for offset, data in item["patches"]],
                journal_dir=journals,
                progress=self._progress,
                bandwidth_bytes_per_second=self._bandwidth(),
            )
            self.journal.done(step, sha256=result.sha256, size=result.size)
        return {}

    def _check_unchanged(self, plan: dict[str, Any]) -> None:
        """Redo de-identification when a raw file changed since its patches were computed."""
        for item in plan["files"]:
            info = Path(item["source"]).stat()
            if [info.st_size, info.st_mtime_ns] != item["stat"]:
                self.log.warning("raw file %s changed since de-identification", item["name"])
                self.journal.forget(
                    "deidentify", "upload_begin", *(f"upload:{i['name']}" for i in plan["files"])
                )
                raise Wait(0.0, "the raw file changed; de-identifying it again")

    def _upload_task(self) -> dict[str, Any]:
        plan = self.journal.facts("deidentify")
        task_copy = Path(plan["task_file"])
        cloud_uuid = self.cloud_uuid
        if cloud_uuid != self.uuid:
            renamed = task_copy.with_name(task_copy.name.replace(self.uuid, cloud_uuid, 1))
            renamed.write_bytes(with_task_uuid(task_copy.read_bytes(), cloud_uuid))
            task_copy = renamed
        bucket = self.ctx.account.get()["in_bucket"]
        upload_file(self.ctx.s3, task_copy, bucket, self._prefix() + task_copy.name)
        size_mb = plan["size"] / 1e6
        when = self.ctx.now()

        def finish(phi: PhiFile) -> None:
            phi.log("UPLOAD_END", when)
            phi.set_stats(datasize_mb=round(size_mb, 3))

        self._phi_update(finish)
        return {"name": task_copy.name}

    def _submit(self) -> dict[str, Any]:
        plan = self.journal.facts("deidentify")
        try:
            answer = self.ctx.api.job_submit(
                self.cloud_uuid, self.journal.facts("upload_task")["name"], plan["recon_mode"]
            )
        except CloudError as error:
            # The task file's upload submits the task by itself; a refused job_submit
            # does not mean the cloud does not run it.
            try:
                known = self._running_in_cloud(error)
            except CloudError as refusal:
                if refusal is error and error.status == 404:
                    self._upload_under_new_uuid()
                raise
            answer = {"id": known.get("id", "")}
        self._phi_log("PROCESSING_BEGIN")
        return {"job_id": str(answer.get("id", ""))}

    def _upload_under_new_uuid(self) -> None:
        """Start over at the upload under a new cloud UUID, the cloud having refused this one.

        ``v1/job_submit`` answers 404 when the UUID is not this user's to use (another
        user holds it, as after a change of key), and the task's own ``v1/job_status``
        does not know it either. The site keeps its UUID (``.phi``, journal, folders);
        only the cloud's copy goes by the new one. A UUID the agent has just chosen is
        not replaced again: the task fails, and ``retry`` uploads it again under that
        UUID, which may be replaced once more if the cloud refuses it.
        """
        refused = self.cloud_uuid
        if self.journal.is_done("restart") and self.journal.facts("restart").get("refused_uuid"):
            raise CloudForgot(
                f"the cloud refused task {self.uuid} under the new UUID {refused} too; check"
                " the agent's key in the portal, then run 'yarracloud-agent retry' with this"
                " UUID to upload it again"
            )
        cloud_uuid = str(uuids.uuid4())
        restart_from_upload(
            self.journal,
            cloud_uuid,
            reason="the cloud refused the UUID for this user",
            refused_uuid=refused,
        )
        self.log.warning(
            "the cloud refused UUID %s for this user; uploading the task again as %s",
            refused,
            cloud_uuid,
        )
        raise Wait(0.0, f"uploading again under the new cloud UUID {cloud_uuid}")

    def _running_in_cloud(self, error: CloudError) -> dict[str, Any]:
        """The cloud's ``v1/job_status`` of this task when a refusal may not be the last word.

        A refusal (4xx) of a request about a task the cloud may already run can be out of
        date or about the request alone; the task's own status decides. ``error`` is raised
        again when it is transient, or when the cloud holds no task past its upload.
        """
        if error.transient or error.status is None or not 400 <= error.status < 500:
            raise error
        try:
            known = self.ctx.api.job_status(self.cloud_uuid)
        except CloudError:
            raise error from None
        if known.get("status") in ("", None, "UPLOADING"):
            raise error
        self.log.warning(
            "the cloud refused a request (%s) but holds the task as %s; going on from there",
            error.status,
            known.get("status"),
        )
        return known

    def _poll(self) -> dict[str, Any]:
        try:
            answer = self.ctx.api.jobs([self.cloud_uuid]).get(self.cloud_uuid)
        except CloudError as error:
            known = self._running_in_cloud(error)
            answer = {"batch_info": {"status": known["status"]}, "cost": known.get("cost")}
        if answer is None:
            raise CloudForgot(
                f"the cloud no longer knows task {self.uuid} (a new cloud, a deleted record or"
                " another user's key); run 'yarracloud-agent retry' with this UUID to upload"
                " it again"
            )
        status = answer.get("batch_info", {}).get("status", "")
        cost = _number(answer.get("cost"))
        if status in SETTLED:
            when = self.ctx.now()

            def finish(phi: PhiFile) -> None:
                phi.log("PROCESSING_END", when)
                phi.set_stats(cost=cost)

            self._phi_update(finish)
            return {"status": status, "cost": cost}
        if status in ENDS:
            reason = ""
            try:
                reason = str(self.ctx.api.job_status(self.cloud_uuid).get("error", ""))
            except CloudError:
                reason = ""
            message = f"reconstruction {status.lower()}" + (f": {reason}" if reason else "")
            return self._ended_in_cloud(message)
        attempt = self.state.count_attempt("poll")
        self.state.update(cloud_status=status)
        raise Wait(min(self.ctx.poll_seconds, Backoff(0.5, 1.5).delay(attempt)), status)

    def _ended_in_cloud(self, message: str) -> dict[str, Any]:
        """The reconstruction did not succeed: record why, archive the ``.phi``, end the task."""
        self.log.error("task ended in the cloud: %s", message)
        when = self.ctx.now()

        def record(phi: PhiFile) -> None:
            phi.log("PROCESSING_END", when)
            phi.set_status(result=f"Processing Error: {message}")

        self._phi_update(record)
        for step in ("download", "reidentify", "deliver", "delivered"):
            self.journal.done(step, skipped=True)
        return {"status": "FAILED", "message": message}

    def _download(self) -> dict[str, Any]:
        self._phi_log("DOWNLOAD_BEGIN")
        dest = self.ctx.folders.inbox / self.uuid
        shutil.rmtree(dest, ignore_errors=True)
        bucket = self.ctx.account.get()["out_bucket"]
        download_prefix(
            self.ctx.s3,
            bucket,
            self._prefix(),
            dest,
            progress=self._progress,
            bandwidth_bytes_per_second=self._bandwidth(),
        )
        images = verify_manifest(dest)
        self._phi_log("DOWNLOAD_END")
        return {"images": len(images)}

    def _reidentify(self) -> dict[str, Any]:
        images = sorted((self.ctx.folders.inbox / self.uuid / "output_files").rglob("*.dcm"))
        if not images:
            raise BadTask(f"task {self.uuid}: the reconstruction returned no DICOM images")
        phi = PhiFile.load(self.phi_path)
        self._register_identity(phi)
        kept = phi.replaced()
        identity = phi.identity(
            exam_date=kept.get(EXAM_DATE, ""), exam_time=kept.get(EXAM_TIME, "")
        )
        out = self.folder / "reidentified"
        shutil.rmtree(out, ignore_errors=True)
        private_folder(out)
        written = reidentify_series(images, identity, out, cloud_uuid=self.cloud_uuid)
        return {"images": len(written)}

    def _destinations(self) -> list[Destination]:
        mode = self.journal.facts("deidentify")["recon_mode"]
        names = [str(entry.get("name", "")) for entry in self.ctx.api.mode_destinations(mode)]
        return choose_destinations(self.ctx.destinations, names, mode)

    def _deliver(self) -> dict[str, Any]:
        self._register_identity()
        images = sorted(p for p in (self.folder / "reidentified").rglob("*") if p.is_file())
        destinations = self._destinations()
        if not self.journal.is_done("storage_begin"):
            self._phi_log("STORAGE_BEGIN")
            self.journal.done("storage_begin")
        failures = []
        for destination in destinations:
            step = f"deliver:{destination.name}"
            if self.journal.is_done(step):
                continue
            try:
                deliver(images, destination, subfolder=self.uuid)
            except DeliveryError as error:
                failures.append(f"{destination.name}: {error}")
                continue
            self.journal.done(step)
            self.log.info("delivered %d images to %s", len(images), destination.name)
        if failures:
            attempt = self.state.count_attempt("deliver")
            self._phi_update(lambda phi: phi.set_status(retry_storage=attempt))
            delay = self.ctx.retry_backoff.delay(attempt)
            message = "; ".join(failures)
            self.log.warning("delivery failed (attempt %d): %s", attempt, message)
            raise Wait(delay, message)
        self._phi_log("STORAGE_END")
        return {"destinations": [d.name for d in destinations]}

    def _delivered(self) -> dict[str, Any]:
        self.ctx.api.job_delivered(self.cloud_uuid)
        return {}

    def _archive(self) -> dict[str, Any]:
        ended = self.journal.facts("poll")
        result = "completed" if ended.get("status") != "FAILED" else "failed"
        if self.phi_path.exists():
            when = self.ctx.now()

            def finish(phi: PhiFile) -> None:
                if result == "completed":
                    phi.set_status(result="Completed")
                phi.log("COMPLETED", when)

            self._phi_update(finish)
            archive(self.phi_path, self.ctx.folders.phi_archive)
        self._tidy()
        return {"result": result}

    def _tidy(self) -> None:
        """Remove what the finished task no longer needs: its exports, results and copies."""
        plan = self.journal.facts("deidentify")
        names = [item["name"] for item in plan["files"]] + [Path(plan["task_file"]).name]
        for name in names:
            (self.ctx.folders.out / name).unlink(missing_ok=True)
        shutil.rmtree(self.ctx.folders.inbox / self.uuid, ignore_errors=True)
        for name in ("deid", "reidentified", "transfers"):
            shutil.rmtree(self.folder / name, ignore_errors=True)


def cloud_uuid_of(journal: TaskJournal, uuid: str) -> str:
    """The UUID the cloud knows task ``uuid`` by: its own, unless a restart chose another.

    The site's UUID names the task at home (``.phi``, journal, folders, the images'
    PatientComments); the cloud's names its objects, task file and API calls.
    """
    if journal.is_done("restart"):
        return str(journal.facts("restart")["cloud_uuid"])
    return uuid


def restart_from_upload(
    journal: TaskJournal,
    cloud_uuid: str,
    *,
    reason: str = "the cloud no longer knew it",
    refused_uuid: str | None = None,
) -> int:
    """Have a task start over at its upload, under ``cloud_uuid``; returns how many times it did.

    De-identification stays done (its patches still fit the raw files, which are checked
    again before the upload); every step from the upload on is forgotten. The restart, the
    UUID the task is uploaded under and, when the cloud refused the previous one, that
    ``refused_uuid`` are recorded in the journal as ``restart``.
    """
    plan = journal.facts("deidentify")
    uploads = [f"upload:{item['name']}" for item in plan.get("files", [])]
    journal.forget("upload_begin", *uploads, *STEPS[STEPS.index("upload") :])
    count = int(journal.facts("restart")["count"]) + 1 if journal.is_done("restart") else 1
    facts: dict[str, Any] = {"count": count, "cloud_uuid": cloud_uuid, "reason": reason}
    if refused_uuid is not None:
        facts["refused_uuid"] = refused_uuid
    journal.done("restart", **facts)
    return count


def choose_destinations(
    allowed: Sequence[Destination], names: Sequence[str], mode: str
) -> list[Destination]:
    """The site's own destinations that the cloud's list for ``mode`` names.

    Where identified images go is the site's decision: the cloud's list
    (``v1/mode_destinations``) only chooses among the ``[[destination]]`` entries of
    the agent's config, by name, and its addresses are never used.

    Raises
    ------
    BadTask
        When the cloud names no destination, or any name the config does not list;
        then nothing is delivered anywhere.
    """
    by_name = {destination.name: destination for destination in allowed}
    unknown = sorted({name for name in names if name not in by_name})
    if unknown:
        listed = ", ".join(sorted(by_name)) or "none"
        raise BadTask(
            f"the cloud lists destination(s) {', '.join(map(repr, unknown))} for mode {mode},"
            f" which this site's agent config does not allow (it allows: {listed}); nothing"
            " was delivered. Add a [[destination]] of that name to the config if the site"
            " wants it, or remove it in the portal, then run 'yarracloud-agent retry'"
        )
    if not names:
        raise BadTask(
            f"no destination for mode {mode}: choose one of the site's destinations for the"
            " mode in the portal, then run 'yarracloud-agent retry'"
        )
    return [by_name[name] for name in dict.fromkeys(names)]


def verify_manifest(folder: Path) -> list[Path]:
    """Check every file ``manifest.json`` names against its sha256; return the DICOM files.

    Raises
    ------
    TransferError
        A file is missing or differs (transient: the download is made again).
    """
    manifest_path = folder / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as error:
        raise TransferError(f"the results have no readable manifest.json ({error})") from None
    for entry in manifest.get("files", []):
        path = folder / entry["name"]
        if not path.is_file():
            raise TransferError(f"result file {entry['name']} named in the manifest is missing")
        if sha256_file(path) != entry["sha256"]:
            raise TransferError(f"result file {entry['name']} differs from the manifest")
    return sorted((folder / "output_files").rglob("*.dcm"))


def log_internal_error(
    log: logging.LoggerAdapter | logging.Logger, where: str, error: Exception
) -> None:
    """Log an unexpected error with its type and stack but not its message.

    A library's message can quote the data it choked on, which may be a patient value;
    the stack's file names and line numbers are enough to find the fault.
    """
    stack = "".join(traceback.format_tb(error.__traceback__))
    log.error("%s: internal error %s\n%s", where, type(error).__name__, stack)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _transient(error: Exception) -> bool:
    if isinstance(error, CloudError):
        return error.transient
    if isinstance(error, AuthError):
        return False
    return isinstance(error, (TransferError, DeliveryError, OSError))


def _safe_message(error: Exception) -> str:
    """A message for the log and ``status``: our own errors' text, else the type and errno."""
    if isinstance(error, (AgentError, TransferError)):
        return str(error)
    if isinstance(error, OSError):
        return f"{type(error).__name__} (errno {error.errno}): {error.strerror}"
    return type(error).__name__
