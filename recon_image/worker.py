"""The Batch job: download a task's inputs, run its mode, upload the DICOM series.

Out prefix (``YC_OUTPUT``) after a success: ``output_files/…`` (the DICOM
series), ``manifest.json`` (name, size, sha256 of every output file, which the
site agent verifies) and ``worker.log``. After a failure: ``failure.json``
(``{"reason": …}``, the reason the site sees) and ``worker.log``.

Exit codes tell Batch's retry strategy whether another attempt can help: 0
done, 65 bad input or a mode that cannot run (no retry), 70 a fault of the
worker (no retry), 75 interrupted or storage unreachable (retried).
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from contracts.phi_redaction import redact
from contracts.taskfile import TaskFile, TaskFileError
from contracts.taskfile import read_task_file as parse_task_file
from recon_image.errors import EXIT_INTERNAL, BadInput, ReconError, Transient
from recon_image.modes.modefile import Step, find_mode
from recon_image.modes.runner import ModeJob, run_mode
from recon_image.settings import WorkerSettings
from transfer.download import download_prefix
from transfer.errors import IntegrityError, RetriesExhausted, TransferError
from transfer.parallel import run_bounded
from transfer.retry import is_transient
from transfer.upload import upload_file

logger = logging.getLogger("yarracloud.worker")
step_logger = logging.getLogger("yarracloud.worker.mode")

LOG_FILE = "worker.log"
MANIFEST_FILE = "manifest.json"
FAILURE_FILE = "failure.json"
OUTPUT_FOLDER = "output_files"
_MAX_TASK_FILE = 1 << 20
OUTPUT_UPLOAD_CONCURRENCY = 8


def main(env: Mapping[str, str]) -> int:
    """Run the job described by ``env`` and return the process exit code."""
    with _sigterm_raises_transient():
        try:
            return _main(env)
        except Transient as error:
            # Interrupted before the job could report anything itself.
            logger.warning("job interrupted: %s", error)
            return error.exit_code


def _main(env: Mapping[str, str]) -> int:
    try:
        settings = WorkerSettings.from_env(env)
    except ReconError as error:
        _configure_logging(None, task_id=env.get("YC_TASK_UUID", ""))
        logger.error("the worker cannot start: %s", error)
        return error.exit_code
    _init_sentry(settings)
    with _job_dir(settings) as job_dir:
        out_dir = job_dir / "out"
        out_dir.mkdir()
        log_path = out_dir / LOG_FILE
        _configure_logging(log_path, task_id=settings.task_id)
        s3 = make_s3_client()
        code = 0
        try:
            run_job(settings, s3, job_dir)
        except ReconError as error:
            code = _report_failure(settings, s3, out_dir, error)
        except Exception as error:
            logger.exception("internal error")
            _capture(error)
            reason = (
                f"the reconstruction worker failed with an internal error"
                f" ({type(error).__name__}); the service's operators are notified. Submit"
                " the task again later; if it fails again, contact support with the task id"
            )
            code = _report_failure(settings, s3, out_dir, ReconError(reason), captured=True)
        _upload_log(settings, s3, log_path)
    _flush_sentry()
    return code


def run_job(settings: WorkerSettings, s3: Any, job_dir: Path) -> None:
    """Download, reconstruct and upload one task; raises the worker's own errors."""
    started = time.monotonic()
    logger.info(
        "job started",
        extra={"mode": settings.mode, "attempt": settings.attempt, "vcpus": settings.vcpus},
    )
    mode = find_mode(settings.modes_dir, settings.mode)
    input_dir = job_dir / "input"
    stage = time.monotonic()
    downloaded = _storage(
        # the job's disk ends with its container: nothing to sync it for
        lambda: download_prefix(
            s3, settings.input.bucket, settings.input.prefix, input_dir, durable=False
        ),
        f"download the task's inputs from {settings.input}",
    )
    logger.info(
        "inputs downloaded",
        extra={
            "files": len(downloaded),
            "bytes": sum(d.size for d in downloaded),
            "seconds": round(time.monotonic() - stage, 3),
        },
    )
    task_file = input_dir / f"{settings.task_id}.task"
    inputs = read_task_file(task_file, settings)
    scan_file = input_dir / inputs.scan_file
    for name in (inputs.scan_file, *inputs.adjustment_files):
        if not (input_dir / name).is_file():
            raise BadInput(
                f"the task file names {name}, but no such file was uploaded with the task;"
                " upload every raw file before the task file, or export the scan again"
            )
    param = settings.param or inputs.param_value
    job = ModeJob(
        task_id=settings.task_id,
        work_dir=job_dir,
        scan_file=scan_file,
        task_file=task_file,
        param=param,
        modules_dir=settings.modules_dir,
        user_modules_dir=settings.modules_dir,
        modes_dir=settings.modes_dir,
        threads=settings.vcpus,
        env=settings.step_env,
        step_timeout_s=settings.step_timeout_s,
    )
    logger.info("running mode", extra={"mode": mode.mode_id, "steps": len(mode.steps)})
    stage = time.monotonic()
    result = run_mode(mode, job, on_output=_log_step_line)
    logger.info("mode finished", extra={"seconds": round(time.monotonic() - stage, 3)})
    stage = time.monotonic()
    names = [
        f"{OUTPUT_FOLDER}/{path.relative_to(result.output_dir).as_posix()}" for path in result.files
    ]
    manifest: list[dict[str, Any]] = [{} for _ in names]

    def upload_one(index: int) -> None:
        uploaded = _upload(settings, s3, result.files[index], names[index])
        manifest[index] = {"name": names[index], "size": uploaded.size, "sha256": uploaded.sha256}

    # one image is one small object: a request's round trip, not bandwidth, is the cost
    run_bounded(upload_one, range(len(names)), OUTPUT_UPLOAD_CONCURRENCY, "upload")
    manifest_path = job_dir / "out" / MANIFEST_FILE
    manifest_path.write_text(
        json.dumps({"task_id": settings.task_id, "mode": mode.mode_id, "files": manifest}, indent=2)
    )
    _upload(settings, s3, manifest_path, MANIFEST_FILE)
    logger.info(
        "outputs uploaded",
        extra={"files": len(manifest) + 1, "seconds": round(time.monotonic() - stage, 3)},
    )
    _storage(
        lambda: s3.delete_object(
            Bucket=settings.output.bucket, Key=settings.output.key(FAILURE_FILE)
        ),
        f"remove an earlier attempt's {FAILURE_FILE}",
    )
    logger.info(
        "job succeeded",
        extra={"images": len(manifest), "seconds": round(time.monotonic() - started, 3)},
    )


def read_task_file(path: Path, settings: WorkerSettings) -> TaskFile:
    """The scan file, adjustment files and parameter named by the task file.

    Raises
    ------
    BadInput
        When the file is missing or not a task file, saying what to upload instead.
    """
    name = path.name
    if not path.is_file():
        raise BadInput(
            f"the task file {name} is not among the task's inputs in {settings.input}; the"
            " Yarra client uploads it last, after the raw data: export the scan again"
        )
    try:
        return parse_task_file(path.read_bytes()[:_MAX_TASK_FILE], name)
    except TaskFileError as exc:
        raise BadInput(f"{exc}; upload the .task file the Yarra client wrote") from None


def make_s3_client() -> Any:
    """The S3 client; ``AWS_ENDPOINT_URL``, credentials and region come the usual way.

    ``transfer/`` retries transient faults itself, so botocore tries each call only twice.
    """
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": 2}, connect_timeout=10, read_timeout=120
    )
    return boto3.client("s3", config=config)


def _storage(call: Any, what: str) -> Any:
    """Run a storage call, turning the transfer layer's errors into the worker's own."""
    try:
        return call()
    except (RetriesExhausted, IntegrityError) as exc:
        raise Transient(f"could not {what}: {exc}") from exc
    except TransferError as exc:
        raise ReconError(f"could not {what}: {exc}") from exc
    except Exception as exc:
        if is_transient(exc):
            raise Transient(f"could not {what}: storage unreachable ({exc})") from exc
        raise


def _upload(settings: WorkerSettings, s3: Any, path: Path, name: str) -> Any:
    """Upload ``path`` as ``name`` under the task's output prefix."""
    return _storage(
        lambda: upload_file(s3, path, settings.output.bucket, settings.output.key(name)),
        f"upload {name} to {settings.output}",
    )


def _report_failure(
    settings: WorkerSettings, s3: Any, out_dir: Path, error: ReconError, *, captured: bool = False
) -> int:
    reason = str(error)
    level = logging.WARNING if isinstance(error, (BadInput, Transient)) else logging.ERROR
    logger.log(level, "job failed: %s", reason, extra={"exit_code": error.exit_code})
    if error.exit_code == EXIT_INTERNAL and not captured:
        _capture(error)
    failure = out_dir / FAILURE_FILE
    failure.write_text(json.dumps({"reason": reason}, ensure_ascii=False))
    try:
        _upload(settings, s3, failure, FAILURE_FILE)
    except ReconError as upload_error:
        logger.warning("the failure reason could not be stored: %s", upload_error)
    return error.exit_code


def _upload_log(settings: WorkerSettings, s3: Any, log_path: Path) -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()
    try:
        _upload(settings, s3, log_path, LOG_FILE)
    except ReconError as error:
        logger.warning("the job log could not be stored: %s", error)


def _log_step_line(step: Step, line: str) -> None:
    step_logger.info(line, extra={"step": step.label})


@contextmanager
def _job_dir(settings: WorkerSettings) -> Iterator[Path]:
    if settings.work_dir is not None:
        settings.work_dir.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"yc-{settings.task_id[:8]}-", dir=settings.work_dir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def _sigterm_raises_transient() -> Iterator[None]:
    """Batch stops a job with SIGTERM (a Spot reclaim, TerminateJob): end as retryable."""

    def handler(signum: int, frame: FrameType | None) -> None:
        # One interruption is enough: a second SIGTERM must not cut short the failure report.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Transient(
            "the job was interrupted (SIGTERM) before it finished, for example when a Spot"
            " instance was reclaimed; it runs again"
        )

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, task_id, then the extras."""

    _standard = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
        "message",
        "asctime",
        "taskName",
    }

    def __init__(self, task_id: str) -> None:
        super().__init__()
        self._task_id = task_id

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "task_id": self._task_id,
        }
        for key, value in record.__dict__.items():
            if key not in self._standard and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _InterruptibleHandler(logging.Handler):
    """logging swallows what a handler raises; SIGTERM's Transient must end the job instead."""

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, Transient):
            raise error
        super().handleError(record)


class _StreamHandler(_InterruptibleHandler, logging.StreamHandler):  # type: ignore[type-arg]
    pass


class _FileHandler(_InterruptibleHandler, logging.FileHandler):
    pass


def _configure_logging(log_path: Path | None, *, task_id: str) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    formatter = _JsonFormatter(task_id)
    handlers: list[logging.Handler] = [_StreamHandler(sys.stderr)]
    if log_path is not None:
        handlers.append(_FileHandler(log_path, encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _init_sentry(settings: WorkerSettings) -> None:
    """Report internal errors to Sentry when a DSN is set, tagged with the task id.

    The worker holds only de-identified data; local variables and request bodies are
    still kept out of events, and every event and breadcrumb passes the PHI
    redaction rules every component shares.
    """
    if not settings.sentry_dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.logging import LoggingIntegration

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.environment,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=_redacted,
        before_send_transaction=_redacted,
        before_breadcrumb=_redacted,
        integrations=[LoggingIntegration(event_level=None)],
    )
    sentry_sdk.get_global_scope().set_tag("task_id", settings.task_id)
    sentry_sdk.get_global_scope().set_tag("component", "worker")


def _redacted(item: dict[str, Any], hint: dict[str, Any] | None) -> dict[str, Any]:
    scrubbed: dict[str, Any] = redact(item)
    return scrubbed


def _capture(error: BaseException) -> None:
    if "sentry_sdk" in sys.modules:
        import sentry_sdk

        if sentry_sdk.get_client().is_active():
            sentry_sdk.capture_exception(error)


def _flush_sentry() -> None:
    if "sentry_sdk" in sys.modules:
        import sentry_sdk

        if sentry_sdk.get_client().is_active():
            sentry_sdk.flush(timeout=5)
