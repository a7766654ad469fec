"""``yarracloud-agent`` (``python -m agent``): run, status, retry, doctor, submit, inspect.

::

    yarracloud-agent --config /etc/yarracloud/agent.toml run
    yarracloud-agent --config ... status
    yarracloud-agent --config ... retry UUID
    yarracloud-agent --config ... doctor
    yarracloud-agent --config ... submit FILE --mode MODE [--acc ACCESSION]
    yarracloud-agent inspect FILE

Errors a person can fix are printed as one line saying what to do (exit 2); logs are JSON
lines on stderr carrying ``task_id``, never a patient value.
"""

from __future__ import annotations

import argparse
import configparser
import json
import logging
import os
import re
import shutil
import signal
import sys
import uuid as uuidlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.config import AgentConfig
from agent.deid.mrd import deidentify_mrd
from agent.deid.twix import Inspection, deidentify_twix, inspect_twix
from agent.doctor import format_findings, run_checks
from agent.errors import AgentError, BadTask
from agent.observability import init_sentry, redact_text
from agent.ort import OrtFolders
from agent.phi import PhiFile, birth_date
from agent.pipeline import MRD_SUFFIXES
from agent.private import private_folder, protect_file
from agent.service import Agent, retry_task, s3_client
from agent.status import format_table, task_rows
from contracts.atomic_write import write_atomically

DEFAULT_CONFIG = Path("/etc/yarracloud/agent.toml")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_NAME_FIELDS = ("tpatientname", "patientname", "patientsname", "tpatientsname")
_ID_FIELDS = ("patientid", "tpatientid")
_DOB_FIELDS = ("patientbirthday", "tpatientbirthday", "patientbirthdate")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and ``task_id`` when set.

    Messages pass through the same redaction as Sentry events: the agent's own
    messages carry no patient value, and this catches one a library might quote.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_text(record.getMessage()),
        }
        task_id = getattr(record, "task_id", None)
        if task_id:
            entry["task_id"] = task_id
        return json.dumps(entry)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes, not when it was made."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        return


def setup_logging(level: int = logging.INFO) -> None:
    """JSON lines on stderr from every logger (once, however often it is called)."""
    root = logging.getLogger()
    if not any(isinstance(handler, _StderrHandler) for handler in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "pynetdicom"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# -- commands ---------------------------------------------------------------------------


def cmd_run(config: AgentConfig) -> int:
    if config.sentry_dsn:
        init_sentry(config.sentry_dsn)
    agent = Agent(config)

    def stop(signum: int, _frame: Any) -> None:
        logging.getLogger("yarracloud.agent").info(
            "signal %d: stopping after the current steps", signum
        )
        agent.stop()

    # SIGINT is also how Windows delivers Ctrl+C, which service managers (NSSM) send
    # to stop a console program; SIGBREAK, Windows' own, is Ctrl+Break.
    for name in ("SIGTERM", "SIGINT", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), stop)
    agent.run()
    return 0


def cmd_status(config: AgentConfig) -> int:
    print(format_table(task_rows(config.base)))
    return 0


def cmd_retry(config: AgentConfig, task: str) -> int:
    if not _UUID.match(task):
        raise BadTask(f"{task!r} is not a task UUID; 'yarracloud-agent status' lists them")
    print(retry_task(config.base, task))
    return 0


def cmd_submit(config: AgentConfig, raw: Path, mode: str, accession: str) -> int:
    task = submit_file(OrtFolders(config.base), raw, mode=mode, accession=accession)
    print(f"queued task {task}; 'yarracloud-agent status' shows its progress")
    return 0


def cmd_inspect(raw: Path) -> int:
    """Print what de-identification would do with ``raw``; 0 if the agent would accept it."""
    if not Path(raw).is_file():
        raise BadTask(f"{raw} is not a file; give the path of a Siemens TWIX (.dat) file")
    found = inspect_twix(raw)
    print(format_inspection(Path(raw).name, found))
    return 1 if found.refusal else 0


def format_inspection(name: str, found: Inspection) -> str:
    """The inspection as a person reads it: field names and counts, never a value."""
    flavour = "VB" if found.flavour == "VB" else "VD/VE/XA"
    verdict = f"refused: {found.refusal}" if found.refusal else "accepted"
    lines = [
        f"{name}: Siemens TWIX {flavour}, software {found.software_version or '(none named)'}",
        f"The agent would replace {len(found.replaced_fields)} identity fields"
        f" ({found.patched_bytes} bytes in {found.patches} equal-length patches):",
        *(f"  {field}" for field in found.replaced_fields),
    ]
    if found.unknown_fields:
        lines += [
            f"{len(found.unknown_fields)} fields look like identity and are not in the"
            " catalogue; report these names (not their values) with the software version:",
            *(f"  {field}" for field in found.unknown_fields),
        ]
    else:
        lines.append("No field looks like identity without being in the catalogue.")
    lines.append(f"Verdict: {verdict}")
    return "\n".join(lines)


def submit_file(
    folders: OrtFolders, raw: Path, *, mode: str, accession: str = "", task: str | None = None
) -> str:
    """Queue ``raw`` (a TWIX ``.dat`` or an MRD ``.h5``) as ORT would; returns the task UUID.

    The patient's name, ID and birth date are read from the file's own header (the
    fields de-identification will replace) into ``cloud/phi/{uuid}.phi``; a birth date
    that is blank or no date (a placeholder such as ``xxxxxxxx``) is recorded as absent,
    with a warning. The raw file
    is hard-linked into ``cloud/out`` (copied where a link cannot be made); the task
    file is written last, under a ``.lock``, as ORT does.

    Raises
    ------
    BadTask
        When the file is missing, of an unknown kind, refused by de-identification, or
        carries no patient name or ID.
    """
    raw = Path(raw)
    if not raw.is_file():
        raise BadTask(f"{raw} is not a file; give the path of a .dat (TWIX) or .h5 (MRD) file")
    task = task or str(uuidlib.uuid4())
    suffix = raw.suffix.lower()
    if suffix in MRD_SUFFIXES:
        scratch = folders.base / "cloud" / "agent" / f".submit-{task}.h5"
        private_folder(scratch.parent)
        try:
            replaced = deidentify_mrd(raw, scratch).replaced
        finally:
            scratch.unlink(missing_ok=True)
    elif suffix == ".dat":
        replaced = deidentify_twix(raw).replaced
    else:
        raise BadTask(f"{raw.name}: only Siemens TWIX (.dat) and MRD (.h5) files can be submitted")
    name = _field(replaced, _NAME_FIELDS)
    patient_id = _field(replaced, _ID_FIELDS)
    if not name or not patient_id:
        missing = "patient name" if not name else "patient ID"
        raise BadTask(f"{raw.name} carries no {missing} in its header; it cannot be re-identified")
    scan_name = f"{task}{suffix}"
    target = folders.out / scan_name
    try:
        os.link(raw, target)
    except OSError:
        shutil.copyfile(raw, target)
        protect_file(target)
    dob = birth_date(_field(replaced, _DOB_FIELDS))
    if dob is None:
        logging.getLogger("yarracloud.agent.submit").warning(
            "the raw header's birth date is not a date (YYYYMMDD); recorded as absent in"
            " the .phi, the images get no birth date",
            extra={"task_id": task},
        )
    phi = PhiFile(folders.phi_file(task), _ini())
    for key, value in (
        ("NAME", name),
        ("DOB", dob or ""),
        ("MRN", patient_id),
        ("ACC", accession),
        ("UUID", task),
        ("TASKID", task),
        ("MODE", mode),
    ):
        phi.set("PHI", key, value)
    phi.log("CREATED", datetime.now(UTC))
    phi.save()
    lock = folders.lock_file(task)
    lock.touch()
    try:
        write_atomically(folders.task_file(task), _task_text(task, scan_name, mode, target))
    finally:
        lock.unlink(missing_ok=True)
    return task


def _field(replaced: dict[str, str], names: Sequence[str]) -> str:
    """The first value recorded under one of ``names`` (the key's last word, any case)."""
    for key, value in replaced.items():
        word = re.split(r"[^A-Za-z0-9]+", key.strip())
        words = [w.lower() for w in word if w]
        if words and any(w in names for w in words) and value.strip():
            return value.strip()
    return ""


def _ini() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    return parser


def _task_text(task: str, scan_name: str, mode: str, raw: Path) -> bytes:
    now = datetime.now().strftime("%d/%m/%y  %H:%M:%S")
    lines = [
        "[Task]",
        f"ReconMode={mode}",
        f"ScanFile={scan_name}",
        "AdjustmentFilesCount=0",
        "ScanProtocol=",
        "ParamValue=0",
        f"UUID={task}",
        f"CreationTimeTask={now}",
        "",
        "[AdjustmentFiles]",
        "",
        "[Information]",
        f"ScanFileSize={raw.stat().st_size}",
        "",
    ]
    return "\n".join(lines).encode()


# -- parsing ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="yarracloud-agent",
        description="The YarraCloud site agent: ORT queue → cloud reconstruction → PACS.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help=f"the agent's TOML config (default {DEFAULT_CONFIG})",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the agent until stopped (SIGTERM)")
    commands.add_parser("status", help="the tasks: stage, progress, age, last error")
    retry = commands.add_parser("retry", help="retry a task stopped by an error")
    retry.add_argument("uuid")
    commands.add_parser("doctor", help="check the set-up and say what to fix")
    inspect = commands.add_parser(
        "inspect", help="what de-identification would replace in a raw file, and what it lacks"
    )
    inspect.add_argument("file", type=Path, help="a Siemens TWIX (.dat) file")
    submit = commands.add_parser("submit", help="queue a raw file from anywhere")
    submit.add_argument("file", type=Path, help="a Siemens TWIX (.dat) or MRD (.h5) file")
    submit.add_argument("--mode", required=True, help="the reconstruction mode (v1/modes)")
    submit.add_argument("--acc", default="", help="the accession number")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging()
    try:
        if args.command == "inspect":
            return cmd_inspect(args.file)
        if args.command == "doctor":
            findings = run_checks(args.config, s3_factory=s3_client)
            print(format_findings(findings))
            return 1 if any(f.level == "fail" for f in findings) else 0
        config = AgentConfig.load(args.config)
        if args.command == "run":
            return cmd_run(config)
        if args.command == "status":
            return cmd_status(config)
        if args.command == "retry":
            return cmd_retry(config, args.uuid.lower())
        return cmd_submit(config, args.file, args.mode, args.acc)
    except AgentError as error:
        print(f"yarracloud-agent: {error}", file=sys.stderr)
        return 2
