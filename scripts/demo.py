"""The demo: a scan from the ORT folders, through the local cloud, into a PACS.

Everything runs on this machine, with no AWS account: the local cloud (an AWS
emulator, the API gateway, a local Batch, the handlers) starts and publishes the
worker's built-in modes; an Orthanc PACS starts on loopback; a site with billing
off, one mode enabled, a PACS destination pointing at that Orthanc and a user with
an access key and an agent config are set up; the site agent starts. A Siemens VE
TWIX file of a Shepp-Logan phantom, whose header names a fictitious patient, is
exported into the ORT cloud folders as the Yarra ORT client does (raw file, ``.phi``,
then the task file last). The agent de-identifies it, uploads it and submits the
task; the local Batch runs the reconstruction worker; the agent downloads the DICOM
series, restores the patient's identity and stores it in Orthanc. Each stage is
shown as it happens, with its time; the run ends with the Orthanc study, its web
address, the patient's name as stored there, and the task's cost. The portal runs
too (plain HTTP on loopback, a fresh SQLite database in the work folder), with an
account for the site's administrator: its address and sign-in are printed with
the result, to see the task, its cost and the site's settings there.

``--file PATH`` reconstructs a raw file of your own instead (Siemens TWIX VB/VD/VE
``.dat`` or MRD ``.h5``), queued with the agent's ``submit`` command; ``--mode``
chooses the mode (default ``yc_cartesian``). The patient shown is the one the
file's header names: the agent keeps that identity at the site and restores it.

Ctrl-C, or the end of the run, stops everything the demo started; ``--keep`` leaves
the local cloud, Orthanc, the agent and the portal running until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.config import AgentConfig
from agent.errors import AgentError
from agent.ort import OrtFolders
from agent.phi import PhiFile
from agent.pipeline import MRD_SUFFIXES
from agent.status import COMPLETED, STOPPED, TaskRow, task_rows
from contracts.task_status import Status
from contracts.taskfile import RAW_SUFFIXES
from functions.core.destinations import Destination
from functions.core.settings import Settings
from recon_image.modes.modefile import mode_ids
from recon_image.settings import BUILTIN_MODES_DIR
from scripts.admin import Admin, NewKey
from scripts.local_cloud.api_client import ApiClient
from scripts.local_cloud.cloud import REPO_ROOT
from scripts.local_cloud.portal import add_account, portal_config
from scripts.orthanc import ORTHANC_BINARY, Orthanc, OrthancError, port_is_free
from scripts.phantoms.ort import export_task

SITE, USER = "demo-site", "demo-user"
PORTAL_ADMIN = "admin@demo-site.example.org"
"""The portal account of the demo site's administrator."""
MODE = "yc_cartesian"
SLICES = 4
AGENT_AET = "YARRACLOUD"
INSTALL_ORTHANC = (
    f"{ORTHANC_BINARY} is missing: the demo stores the images in an Orthanc PACS."
    " Install the Debian package: sudo apt-get install orthanc"
    " (scripts/demo installs it itself when run as root)."
)
AGENT_STEPS = {
    "deidentify": ("DE-IDENTIFIED", "the raw header's identity replaced by the agent"),
    "upload_task": ("UPLOADED", "raw file, then the task file last, into the in bucket"),
    "download": ("DOWNLOADED", "the DICOM series, checked against the worker's manifest"),
    "reidentify": ("RE-IDENTIFIED", "the patient's identity restored from the .phi file"),
    "deliver": ("STORED", "in the PACS (DICOM C-STORE to Orthanc)"),
    "archive": ("COMPLETED", "the .phi archived, the raw file removed"),
}
ARCHIVED_AFTER_FAILURE = ("ARCHIVED", "the .phi archived with the cloud's reason")
CLOUD_STATES: dict[str, str] = {
    Status.SUBMITTED: "submitted (the agent's v1/job_submit or the task file's S3 event)",
    Status.PENDING: "pending in the job queue",
    Status.RUNNABLE: "runnable, waiting for capacity",
    Status.STARTING: "starting",
    Status.RUNNING: "the reconstruction worker runs",
    Status.SUCCEEDED: "succeeded",
    Status.FAILED: "failed",
    Status.EXPIRED: "expired",
    Status.CANCELED: "canceled",
}
"""The cloud's states shown; the agent's own upload step stands for UPLOADING."""
ORDER = [
    *("DE-IDENTIFIED", "UPLOADED"),
    *CLOUD_STATES,
    *("DOWNLOADED", "RE-IDENTIFIED", "STORED", "COMPLETED", "ARCHIVED"),
]
"""The stages in the order they happen, for those seen in the same poll."""


@dataclass(frozen=True)
class Portal:
    """The portal the demo serves: its address and the site administrator's sign-in."""

    url: str
    email: str
    password: str


@dataclass
class Stack:
    """What the demo started and set up: the cloud's environment, Orthanc, the agent, the portal."""

    work_dir: Path
    env: dict[str, str]
    orthanc: Orthanc
    key: NewKey
    config: AgentConfig
    folders: OrtFolders
    api: ApiClient
    agent: subprocess.Popen
    cloud: subprocess.Popen
    portal: Portal


@dataclass
class Queued:
    """A task in the ORT folders: its id, raw file, and the patient its ``.phi`` names."""

    task_id: str
    raw: Path
    patient_name: str
    patient_id: str
    at: float
    """When it was queued (``time.time()``); stage times count from here."""
    size: int
    """The raw file's size in bytes."""


@dataclass
class Outcome:
    """How a task ended: the agent's last stage, its error, each stage's time, the study."""

    stage: str
    error: str
    seconds: float
    times: dict[str, float] = field(default_factory=dict)
    study: dict[str, Any] | None = None
    instances: list[str] = field(default_factory=list)
    stored_name: str = ""

    @property
    def completed(self) -> bool:
        return self.stage == COMPLETED


def say(text: str = "") -> None:
    print(text, flush=True)


def start_until_ready(
    command: list[str], ready: Path, log: Path, what: str, stop_signal: int
) -> tuple[subprocess.Popen, str]:
    """Start ``command`` in its own session, output into ``log``; wait for its ready file.

    Returns the process and the ready file's text. A process that ends first, or is
    not ready within 2 minutes, ends the demo with its log's tail.
    """
    ready.unlink(missing_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 120
    while not ready.exists():
        if process.poll() is not None:
            raise SystemExit(
                f"{what} did not start (exit {process.returncode}); its log:\n"
                + log.read_text()[-2000:]
            )
        if time.monotonic() > deadline:
            stop_process(process, stop_signal)
            raise SystemExit(f"{what} did not start within 2 minutes")
        time.sleep(0.1)
    return process, ready.read_text()


def stop_process(process: subprocess.Popen, stop_signal: int, timeout: float = 30) -> None:
    """``stop_signal`` to the process's group, SIGKILL after ``timeout`` seconds."""
    if process.poll() is None:
        os.killpg(process.pid, stop_signal)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def start_cloud(work_dir: Path, aws_port: int) -> tuple[subprocess.Popen, dict[str, str]]:
    command = [sys.executable, "-m", "scripts.local_cloud", "--aws-port", str(aws_port)]
    command += ["--work-dir", str(work_dir / "cloud"), "--ready-file", str(work_dir / "ready.json")]
    process, ready = start_until_ready(
        command,
        work_dir / "ready.json",
        work_dir / "local-cloud.log",
        "the local cloud",
        signal.SIGINT,
    )
    return process, json.loads(ready)


def stop_cloud(process: subprocess.Popen) -> None:
    stop_process(process, signal.SIGINT)


def start_portal(work_dir: Path, port: int, env: dict[str, str]) -> tuple[subprocess.Popen, Portal]:
    """Serve the portal on loopback for the local cloud; add the site administrator's account."""
    portal_dir = work_dir / "portal"
    command = [sys.executable, "-m", "scripts.local_cloud.portal", "--port", str(port)]
    command += ["--cloud", str(work_dir / "ready.json"), "--work-dir", str(portal_dir)]
    command += ["--ready-file", str(work_dir / "portal-ready")]
    process, ready = start_until_ready(
        command, work_dir / "portal-ready", work_dir / "portal.log", "the portal", signal.SIGTERM
    )
    try:
        password = add_account(portal_config(env, portal_dir), PORTAL_ADMIN, "site_admin", SITE)
    except BaseException:
        stop_process(process, signal.SIGTERM)
        raise
    return process, Portal(ready.strip(), PORTAL_ADMIN, password)


def set_up_site(
    ready_file: Path, orthanc: Orthanc, agent_dir: Path, mode: str = MODE, memory_mib: int = 2048
) -> NewKey:
    """A site with billing off, ``mode`` enabled, a PACS destination, and a user with an agent.

    The agent's config goes to ``agent_dir / "agent.toml"``; its ORT folders lie
    under ``agent_dir / "ort"``.
    """
    admin = Admin.connect(ready_file, say=lambda _: None)
    admin.add_site(SITE, "Demo Imaging Centre")
    admin.enable_mode(SITE, mode, vcpus=2, memory_mib=memory_mib, spot=True, timeout_seconds=600)
    admin.add_destination(
        SITE,
        Destination(
            name="orthanc",
            method="PACS",
            ip=orthanc.host,
            port=orthanc.dicom_port,
            aet=AGENT_AET,
            aec=orthanc.aet,
        ),
    )
    config = agent_dir / "agent.toml"
    key = admin.add_user(USER, SITE, agent_config=config, agent_base=agent_dir / "ort")
    config.write_text(config.read_text().replace("poll_seconds = 10", "poll_seconds = 0.2"))
    return key


def start_agent(config: Path, log: Path) -> subprocess.Popen:
    """``python -m agent --config CONFIG run`` in its own session, its output into ``log``."""
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "agent", "--config", str(config), "run"],
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_agent(process: subprocess.Popen) -> None:
    """SIGTERM (the agent ends after its current steps), SIGKILL after 10 s.

    A killed agent loses nothing: its journal lets the next run resume each task.
    """
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def journal_steps(path: Path) -> dict[str, dict[str, Any]]:
    """The steps the agent's journal records as done, with their facts, skipped ones left out.

    Read only; a half-written journal reads as none.
    """
    try:
        entries = json.loads(path.read_text())["steps"]
        return {
            entry["step"]: entry.get("facts") or {}
            for entry in entries
            if not (entry.get("facts") or {}).get("skipped")
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def watch(
    agent: subprocess.Popen,
    api: ApiClient,
    folders: OrtFolders,
    task_id: str,
    started: float,
    timeout: float,
) -> tuple[str, dict[str, float]]:
    """Print each stage of the task once, in order, with its time since ``started``.

    The agent's steps are read from its journal as they are recorded; the cloud's
    states, with the times the cloud recorded, from ``v1/job_status``, as a client
    would. Returns the task's last stage in the agent (one of ``STOPPED``) and the
    time of each stage shown, in seconds since ``started``.
    """
    shown: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    journal = folders.journal_file(task_id)
    while True:
        stage = agent_stage(folders.base, task_id)
        ended = stage in STOPPED
        now = time.time()
        events: list[tuple[float, str, str]] = []
        steps = journal_steps(journal)
        for step, facts in steps.items():
            if step in AGENT_STEPS:
                name, label = AGENT_STEPS[step]
                if step == "archive" and facts.get("result", "completed") != "completed":
                    name, label = ARCHIVED_AFTER_FAILURE
                if name not in shown:
                    shown[name] = now
                    events.append((now, name, label))
        if "upload_task" in steps:
            answer = api.post("job_status", {"name": task_id})
            if answer.status == 200:
                for name, at in answer.body.get("status_times", {}).items():
                    if name in CLOUD_STATES and name not in shown:
                        shown[name] = min(at, now)
                        events.append((min(at, now), name, CLOUD_STATES[name]))
        events.sort(key=lambda event: ORDER.index(event[1]))
        for i in range(len(events) - 2, -1, -1):
            # An agent step is seen when the journal is read; it happened before a later stage.
            at, name, label = events[i]
            events[i] = (min(at, events[i + 1][0]), name, label)
        for at, name, label in events:
            shown[name] = at
            say(f"  +{at - started:6.2f} s  {name:<14} {label}")
        if ended:
            return stage, {name: at - started for name, at in shown.items()}
        if agent.poll() is not None:
            raise SystemExit(f"the agent stopped (exit {agent.returncode}); see its log")
        if time.monotonic() > deadline:
            raise SystemExit(f"the task did not finish within {timeout:g} s")
        time.sleep(0.1)


def agent_row(base: Path, task_id: str) -> TaskRow:
    """The task's row in ``yarracloud-agent status``."""
    rows = {row.uuid: row for row in task_rows(base)}
    return rows.get(task_id) or TaskRow(task_id, "not seen", "", "", "")


def agent_stage(base: Path, task_id: str) -> str:
    return agent_row(base, task_id).stage


def study_of(orthanc: Orthanc, patient_id: str) -> dict[str, Any] | None:
    """Orthanc's study of the patient ``patient_id``, or None."""
    for study in orthanc.studies():
        info = orthanc.get(f"/studies/{study}")
        if info["PatientMainDicomTags"].get("PatientID") == patient_id:
            return info
    return None


def save_preview(orthanc: Orthanc, instances: list[str], path: Path) -> Path:
    """Orthanc's PNG rendering of the middle image (by InstanceNumber), written to ``path``."""
    numbered = sorted(
        instances,
        key=lambda i: int(orthanc.get(f"/instances/{i}")["MainDicomTags"].get("InstanceNumber", 0)),
    )
    path.write_bytes(orthanc.get_bytes(f"/instances/{numbered[len(numbered) // 2]}/preview"))
    return path


def start_orthanc(work_dir: Path, http_port: int = 0, dicom_port: int = 0) -> Orthanc:
    if not ORTHANC_BINARY.exists():
        raise SystemExit(INSTALL_ORTHANC)
    orthanc = Orthanc(
        work_dir / "orthanc",
        http_port=http_port,
        dicom_port=dicom_port,
        name="YarraCloud demo PACS",
    )
    try:
        return orthanc.start()
    except OrthancError as exc:
        orthanc.stop()
        raise SystemExit(
            f"Orthanc did not start: {exc} (its log: {orthanc.log_path}; --orthanc-http-port and"
            " --orthanc-dicom-port choose its ports, 0 any free one)"
        ) from None


def busy_ports(ports: dict[str, int]) -> list[str]:
    """What to say about each port given (not 0) that something already listens on."""
    return [
        f"port {port} ({option}) is in use: stop what listens on it, or give {option} another"
        " port (0 takes any free one)"
        for option, port in ports.items()
        if port and not port_is_free(port)
    ]


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be reconstructed as it stands, or None when it can be tried."""
    if not path.exists():
        return f"{path} does not exist; give the path of a raw data file"
    if not path.is_file():
        return f"{path} is not a file; give the path of a raw data file"
    if path.suffix.lower() not in RAW_SUFFIXES:
        return (
            f"{path.name} is neither a Siemens TWIX (.dat) nor an MRD"
            f" ({', '.join(sorted(MRD_SUFFIXES))}) file"
        )
    try:
        with path.open("rb") as raw:
            raw.read(1)
    except OSError as exc:
        return f"{path} cannot be read ({exc.strerror}); check its permissions"
    if path.stat().st_size == 0:
        return f"{path} is empty"
    return None


@contextlib.contextmanager
def running(
    work_dir: Path,
    *,
    aws_port: int = 0,
    orthanc_http_port: int = 0,
    orthanc_dicom_port: int = 0,
    portal_port: int = 0,
    mode: str = MODE,
    memory_mib: int = 2048,
) -> Iterator[Stack]:
    """Start the local cloud, Orthanc, the portal and the agent, and set the site up.

    Everything is stopped at the end.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    for old in ("agent", "orthanc", "portal"):
        shutil.rmtree(work_dir / old, ignore_errors=True)
    say(
        "Starting the local cloud (AWS emulator, API gateway, local Batch, handlers); log: "
        f"{work_dir / 'local-cloud.log'}"
    )
    process, env = start_cloud(work_dir, aws_port)
    orthanc: Orthanc | None = None
    agent: subprocess.Popen | None = None
    portal_process: subprocess.Popen | None = None
    try:
        say(f"  AWS emulator at {env['AWS_ENDPOINT_URL']}, API at {env['YC_API_URL']}")
        orthanc = start_orthanc(work_dir, orthanc_http_port, orthanc_dicom_port)
        say(
            f"Started Orthanc (the site's PACS): DICOM {orthanc.aet}@{orthanc.host}:"
            f"{orthanc.dicom_port}, web {orthanc.url}/app/explorer.html; log: {orthanc.log_path}"
        )
        agent_dir = work_dir / "agent"
        key = set_up_site(work_dir / "ready.json", orthanc, agent_dir, mode, memory_mib)
        say(
            f"Site {SITE!r} (billing: none), mode {mode!r} enabled, PACS destination"
            f" {AGENT_AET} -> {orthanc.aet}, user {USER!r} with access key {key.access_key_id}"
        )
        portal_process, portal = start_portal(work_dir, portal_port, env)
        say(
            f"Started the portal at {portal.url} with an account for the site's administrator;"
            f" log: {work_dir / 'portal.log'}"
        )
        config = AgentConfig.load(agent_dir / "agent.toml")
        agent = start_agent(agent_dir / "agent.toml", work_dir / "agent.log")
        say(
            f"Started the site agent on the ORT folders {config.base}; log:"
            f" {work_dir / 'agent.log'}"
        )
        api = ApiClient(
            env["YC_API_URL"], key.access_key_id, key.secret_access_key, env["AWS_REGION"]
        )
        yield Stack(
            work_dir,
            env,
            orthanc,
            key,
            config,
            OrtFolders(config.base),
            api,
            agent,
            process,
            portal,
        )
    finally:
        if agent is not None:
            stop_agent(agent)
        if portal_process is not None:
            stop_process(portal_process, signal.SIGTERM)
        if orthanc is not None:
            orthanc.stop()
        stop_cloud(process)


def queue_phantom(stack: Stack, seed: int, matrix: int, mode: str = MODE) -> Queued:
    """Export the phantom scan of ``seed`` into the ORT folders, as the ORT client does."""
    task_id, patient, _site = export_task(
        stack.config.base, seed, mode=mode, matrix=matrix, slices=SLICES, coils=8
    )
    raw = stack.folders.out / f"{task_id}.dat"
    queued = Queued(task_id, raw, patient.name, patient.patient_id, time.time(), raw.stat().st_size)
    say(
        f"ORT exported task {task_id}: {queued.raw.name}, a Siemens VE TWIX of a Shepp-Logan"
        f" phantom ({matrix}x{matrix}, {SLICES} slices, 8 coils,"
        f" {queued.size / 2**20:.1f} MiB) of the fictitious patient"
        f" {patient.name} ({patient.patient_id}), its .phi, then its .task"
    )
    return queued


def queue_file(stack: Stack, path: Path, mode: str) -> Queued:
    """Queue a raw file from anywhere with ``yarracloud-agent submit FILE --mode MODE``.

    A file of one's own reaches the cloud at a site the way a technologist would
    send it: with the agent's ``submit`` command, which reads the patient's
    identity from the file's header into the ``.phi`` (ORT writes that file from
    the scanner's database, which a file from elsewhere does not come with) and
    queues the file in the ORT folders like any ORT export.
    """
    command = [
        sys.executable,
        "-m",
        "agent",
        "--config",
        str(stack.work_dir / "agent" / "agent.toml"),
        "submit",
        str(path.absolute()),
        "--mode",
        mode,
    ]
    done = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    queued_at = time.time()
    found = re.search(r"queued task ([0-9a-f-]{36})", done.stdout)
    if done.returncode != 0 or found is None:
        reason = (done.stderr.strip().splitlines() or ["no reason given"])[-1]
        raise SystemExit(
            f"the agent did not queue {path}: {reason.removeprefix('yarracloud-agent: ')}"
        )
    task_id = found.group(1)
    try:
        identity = PhiFile.load(stack.folders.phi_file(task_id)).identity()
    except AgentError as exc:
        raise SystemExit(f"the agent queued {path} without a usable .phi: {exc}") from None
    size = path.stat().st_size
    queued = Queued(
        task_id,
        next(stack.folders.out.glob(f"{task_id}.*")),
        identity.name,
        identity.patient_id,
        queued_at,
        size,
    )
    say(
        f"yarracloud-agent submit queued task {task_id}: {path.name} ({size / 2**20:.1f} MiB),"
        f" mode {mode!r}; the patient its header names, which stays at the site:"
        f" {identity.name} ({identity.patient_id})"
    )
    for warning in agent_warnings(done.stderr):
        say(f"  the agent warned: {warning}")
    return queued


def agent_warnings(log: str) -> list[str]:
    """The messages of the WARNING lines in the agent's JSON log ``log``."""
    found = []
    for line in log.splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict) and entry.get("level") == "WARNING":
                found.append(str(entry.get("message", "")))
    return found


def failure_reason(stack: Stack, task_id: str) -> str:
    """Why the task stopped, as ``yarracloud-agent status`` shows it.

    A task the cloud ended badly carries the worker's reason (``v1/job_status``'s
    ``error``), which the agent keeps as the task's last error.
    """
    return agent_row(stack.config.base, task_id).error


def follow(stack: Stack, queued: Queued, timeout: float, since: str = "the export") -> Outcome:
    """Show the task's stages until it ends; then find its study in Orthanc."""
    say(f"Stages, timed from {since}:")
    stage, times = watch(stack.agent, stack.api, stack.folders, queued.task_id, queued.at, timeout)
    outcome = Outcome(
        stage=stage,
        error=failure_reason(stack, queued.task_id) if stage != COMPLETED else "",
        seconds=time.time() - queued.at,
        times=times,
    )
    outcome.study = study_of(stack.orthanc, queued.patient_id)
    if outcome.study is not None:
        outcome.instances = [
            i
            for series in outcome.study["Series"]
            for i in stack.orthanc.series_info(series)["Instances"]
        ]
        outcome.stored_name = outcome.study["PatientMainDicomTags"].get("PatientName", "")
    return outcome


def report(
    stack: Stack, queued: Queued, outcome: Outcome, expected: int | None, keep: bool = False
) -> bool:
    """Print the result; True when the images reached Orthanc with the patient restored.

    ``expected`` is the number of images the scan must give, or None for any number;
    ``keep`` says whether the portal stays up after the run.
    """
    say()
    if not outcome.completed:
        say(f"Result: the task failed: {outcome.error or outcome.stage}")
    else:
        say(f"Result: ORT folder to PACS in {outcome.seconds:.1f} s")
    ok = outcome.completed
    study = outcome.study
    if study is None:
        say("  no study of the patient in Orthanc")
        ok = False
    else:
        orthanc, name = stack.orthanc, outcome.stored_name
        say(
            f"  Orthanc study: {orthanc.url}/app/explorer.html#study?uuid={study['ID']}"
            f" (REST: {orthanc.url}/studies/{study['ID']})"
        )
        say(f"  instances stored: {len(outcome.instances)} in {len(study['Series'])} series")
        restored = name == queued.patient_name
        say(
            f"  patient name as stored: {name}"
            f" ({'restored by the agent' if restored else 'NOT the one queued'};"
            " the cloud saw only the task id)"
        )
        count = len(outcome.instances)
        ok = ok and restored and (count == expected if expected is not None else count > 0)
        if outcome.instances:
            preview = save_preview(orthanc, outcome.instances, stack.work_dir / "preview.png")
            say(f"  preview of the middle slice, as the PACS renders it: {preview}")
    job = stack.api.post("jobs", [queued.task_id]).body.get(queued.task_id, {})
    if "cost" in job:
        currency = Settings.from_env(stack.env).rates.currency
        say(f"  cost of the task: {job['cost']:.6f} {currency}")
    say_portal(stack.portal, keep)
    return ok


def say_portal(portal: Portal, keep: bool) -> None:
    """The portal's address and the site administrator's sign-in."""
    until = "" if keep else " (scripts/demo --keep leaves it running)"
    say(f"  portal: {portal.url}/tasks/ - open it to see the task, its cost, the settings{until}")
    say(f"    sign in as {portal.email} with the password {portal.password}")
    say("    then set up two-step sign-in with an authenticator app, as the portal asks")


def keep_running(stack: Stack) -> None:
    """Say how to explore what runs, then wait for Ctrl-C."""
    env, key = stack.env, stack.key
    say()
    say("Everything keeps running (--keep). To explore it from another shell:")
    say(f"  Orthanc: {stack.orthanc.url}/app/explorer.html")
    say(f"  portal: {stack.portal.url} (sign in as {stack.portal.email})")
    for name in ("AWS_ENDPOINT_URL", "AWS_REGION"):
        say(f"  export {name}={shlex.quote(env[name])}")
    say(f"  export AWS_ACCESS_KEY_ID={key.access_key_id}")
    say(f"  export AWS_SECRET_ACCESS_KEY={shlex.quote(key.secret_access_key)}")
    say(f"  aws s3 ls s3://{env.get('YC_OUT_BUCKET', 'the out bucket')}/{USER}/ --recursive")
    say(f"  scripts/admin --cloud {stack.work_dir / 'ready.json'} --help")
    say(f"The agent watches {stack.folders.out} for more ORT exports. Ctrl-C stops everything.")
    with contextlib.suppress(KeyboardInterrupt):
        stack.cloud.wait()


def run(args: argparse.Namespace) -> int:
    if not ORTHANC_BINARY.exists():
        raise SystemExit(INSTALL_ORTHANC)
    say("YarraCloud demo: the embedded default, on this machine, with no AWS account.")
    began = time.monotonic()
    with running(
        args.work_dir.absolute(),
        aws_port=args.aws_port,
        orthanc_http_port=args.orthanc_http_port,
        orthanc_dicom_port=args.orthanc_dicom_port,
        portal_port=args.portal_port,
        mode=args.mode,
        memory_mib=args.memory_mib,
    ) as stack:
        if args.file is None:
            queued = queue_phantom(stack, args.seed, args.matrix, args.mode)
            expected: int | None = SLICES
        else:
            queued = queue_file(stack, args.file, args.mode)
            expected = None
        since = "the export" if args.file is None else "the submit"
        outcome = follow(stack, queued, args.timeout, since)
        ok = report(stack, queued, outcome, expected, args.keep)
        say(f"  whole run, start-up included: {time.monotonic() - began:.1f} s")
        if args.keep:
            keep_running(stack)
    return 0 if ok else 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The options, checked before anything starts: a bad one ends with exit 2 and a reason."""
    parser = argparse.ArgumentParser(
        prog="scripts/demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="leave the cloud, Orthanc, the agent and the portal running",
    )
    parser.add_argument(
        "--file",
        type=Path,
        help="reconstruct this raw file (TWIX .dat or MRD .h5) instead of the phantom scan",
    )
    modes = mode_ids(BUILTIN_MODES_DIR)
    parser.add_argument(
        "--mode",
        default=MODE,
        help=f"the reconstruction mode (default {MODE}; one of: {', '.join(modes)})",
    )
    parser.add_argument(
        "--aws-port",
        type=int,
        default=0,
        help="port of the AWS emulator (default 0: any free port)",
    )
    parser.add_argument(
        "--orthanc-http-port", type=int, default=0, help="Orthanc's web port (default: any free)"
    )
    parser.add_argument(
        "--orthanc-dicom-port", type=int, default=0, help="Orthanc's DICOM port (default: any free)"
    )
    parser.add_argument(
        "--portal-port", type=int, default=0, help="the portal's web port (default: any free)"
    )
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / "var" / "demo")
    parser.add_argument("--matrix", type=int, default=128, help="image matrix of the phantom scan")
    parser.add_argument(
        "--seed", type=int, default=7, help="seed of the task id, the fictitious patient, the noise"
    )
    parser.add_argument(
        "--memory-mib", type=int, default=2048, help="memory of the mode's Batch jobs (MiB)"
    )
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args(argv)
    if args.mode not in modes:
        parser.error(f"unknown mode {args.mode!r}: the local cloud offers {', '.join(modes)}")
    if args.file is not None and (problem := file_problem(args.file)):
        parser.error(problem)
    ports = {
        "--aws-port": args.aws_port,
        "--orthanc-http-port": args.orthanc_http_port,
        "--orthanc-dicom-port": args.orthanc_dicom_port,
        "--portal-port": args.portal_port,
    }
    for option, port in ports.items():
        if not 0 <= port <= 65535:
            parser.error(f"{option} {port} is not a port number (0 to 65535; 0 takes any free one)")
    for problem in busy_ports(ports):
        parser.error(problem)
    return args


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP: the demo stops what it started, as on Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def stop_on_signals() -> None:
    """Make SIGTERM and SIGHUP unwind the demo like Ctrl-C, so that its clean-up runs.

    The first one counts; later ones are ignored so that they cannot cut the clean-up short.
    """

    def stop(signum: int, frame: object) -> None:
        for each in STOP_SIGNALS:
            signal.signal(each, signal.SIG_IGN)
        raise Stopped(signum)

    for each in STOP_SIGNALS:
        signal.signal(each, stop)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_signals()
    try:
        return run(args)
    except KeyboardInterrupt as interrupt:
        signum = interrupt.signum if isinstance(interrupt, Stopped) else signal.SIGINT
        say(f"\n{signal.Signals(signum).name}; everything the demo started was stopped.")
        return 128 + signum


if __name__ == "__main__":
    sys.exit(main())
