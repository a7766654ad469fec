"""The demo: a phantom scan from the ORT folders, through the local cloud, into a PACS.

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
address, the patient's name as stored there, and the task's cost.

Ctrl-C, or the end of the run, stops everything the demo started; ``--keep`` leaves
the local cloud, Orthanc and the agent running until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from agent.config import AgentConfig
from agent.ort import OrtFolders
from agent.status import COMPLETED, FAILED, TaskRow, task_rows
from functions.core.destinations import Destination
from functions.core.settings import Settings
from scripts.admin import Admin, NewKey
from scripts.local_cloud.api_client import ApiClient
from scripts.local_cloud.cloud import REPO_ROOT
from scripts.orthanc import ORTHANC_BINARY, Orthanc, OrthancError
from scripts.phantoms.ort import export_task

SITE, USER = "demo-site", "demo-user"
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
CLOUD_STATES = {
    "SUBMITTED": "submitted (the agent's v1/job_submit or the task file's S3 event)",
    "PENDING": "pending in the job queue",
    "RUNNABLE": "runnable, waiting for capacity",
    "STARTING": "starting",
    "RUNNING": "the reconstruction worker runs",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "EXPIRED": "expired",
    "CANCELED": "canceled",
}
"""The cloud's states shown; the agent's own upload step stands for UPLOADING."""
ORDER = [
    *("DE-IDENTIFIED", "UPLOADED"),
    *CLOUD_STATES,
    *("DOWNLOADED", "RE-IDENTIFIED", "STORED", "COMPLETED"),
]
"""The stages in the order they happen, for those seen in the same poll."""


def say(text: str = "") -> None:
    print(text, flush=True)


def start_cloud(work_dir: Path, aws_port: int) -> tuple[subprocess.Popen, dict[str, str]]:
    ready = work_dir / "ready.json"
    ready.unlink(missing_ok=True)
    log = (work_dir / "local-cloud.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scripts.local_cloud",
            "--aws-port",
            str(aws_port),
            "--work-dir",
            str(work_dir / "cloud"),
            "--ready-file",
            str(ready),
        ],
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not ready.exists():
        if process.poll() is not None:
            raise SystemExit(
                f"the local cloud did not start (exit {process.returncode}); its log:\n"
                + (work_dir / "local-cloud.log").read_text()[-2000:]
            )
        if time.monotonic() > deadline:
            stop_cloud(process)
            raise SystemExit("the local cloud did not start within 2 minutes")
        time.sleep(0.1)
    return process, json.loads(ready.read_text())


def stop_cloud(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def set_up_site(ready_file: Path, orthanc: Orthanc, agent_dir: Path) -> NewKey:
    """A site with billing off, the demo's mode, a PACS destination, and a user with an agent.

    The agent's config goes to ``agent_dir / "agent.toml"``; its ORT folders lie
    under ``agent_dir / "ort"``.
    """
    admin = Admin.connect(ready_file, say=lambda _: None)
    admin.add_site(SITE, "Demo Imaging Centre")
    admin.enable_mode(SITE, MODE, vcpus=2, memory_mib=2048, spot=True, timeout_seconds=600)
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


def journal_steps(path: Path) -> list[str]:
    """The steps the agent's journal records as done (read only; a half-written one is [])."""
    try:
        return [entry["step"] for entry in json.loads(path.read_text())["steps"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def watch(
    agent: subprocess.Popen,
    api: ApiClient,
    folders: OrtFolders,
    task_id: str,
    started: float,
    timeout: float,
) -> bool:
    """Print each stage of the task once, in order, with its time since the export.

    The agent's steps are read from its journal as they are recorded; the cloud's
    states, with the times the cloud recorded, from ``v1/job_status``, as a client
    would. Returns the task's last stage in the agent (``completed`` or ``failed``).
    """
    shown: set[str] = set()
    deadline = time.monotonic() + timeout
    journal = folders.journal_file(task_id)
    while True:
        stage = agent_stage(folders.base, task_id)
        ended = stage in (COMPLETED, FAILED)
        now = time.time()
        events: list[tuple[float, str, str]] = []
        steps = journal_steps(journal)
        for step in steps:
            if step in AGENT_STEPS and step not in shown:
                shown.add(step)
                events.append((now, *AGENT_STEPS[step]))
        if "upload_task" in steps:
            answer = api.post("job_status", {"name": task_id})
            if answer.status == 200:
                for name, at in answer.body.get("status_times", {}).items():
                    if name in CLOUD_STATES and name not in shown:
                        shown.add(name)
                        events.append((min(at, now), name, CLOUD_STATES[name]))
        events.sort(key=lambda event: ORDER.index(event[1]))
        for i in range(len(events) - 2, -1, -1):
            # An agent step is seen when the journal is read; it happened before a later stage.
            at, name, label = events[i]
            events[i] = (min(at, events[i + 1][0]), name, label)
        for at, name, label in events:
            say(f"  +{at - started:6.2f} s  {name:<14} {label}")
        if ended:
            return stage
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


def start_orthanc(work_dir: Path, args: argparse.Namespace) -> Orthanc:
    if not ORTHANC_BINARY.exists():
        raise SystemExit(INSTALL_ORTHANC)
    orthanc = Orthanc(
        work_dir / "orthanc",
        http_port=args.orthanc_http_port,
        dicom_port=args.orthanc_dicom_port,
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


def run(args: argparse.Namespace) -> int:
    work_dir = args.work_dir.absolute()
    work_dir.mkdir(parents=True, exist_ok=True)
    for old in ("agent", "orthanc"):
        shutil.rmtree(work_dir / old, ignore_errors=True)
    if not ORTHANC_BINARY.exists():
        raise SystemExit(INSTALL_ORTHANC)
    say("YarraCloud demo: the embedded default, on this machine, with no AWS account.")
    began = time.monotonic()
    say(
        "Starting the local cloud (AWS emulator, API gateway, local Batch, handlers); log: "
        f"{work_dir / 'local-cloud.log'}"
    )
    process, env = start_cloud(work_dir, args.aws_port)
    orthanc: Orthanc | None = None
    agent: subprocess.Popen | None = None
    try:
        say(f"  AWS emulator at {env['AWS_ENDPOINT_URL']}, API at {env['YC_API_URL']}")
        orthanc = start_orthanc(work_dir, args)
        say(
            f"Started Orthanc (the site's PACS): DICOM {orthanc.aet}@{orthanc.host}:"
            f"{orthanc.dicom_port}, web {orthanc.url}/app/explorer.html; log: {orthanc.log_path}"
        )
        agent_dir = work_dir / "agent"
        key = set_up_site(work_dir / "ready.json", orthanc, agent_dir)
        say(
            f"Site {SITE!r} (billing: none), mode {MODE!r} enabled, PACS destination"
            f" {AGENT_AET} -> {orthanc.aet}, user {USER!r} with access key {key.access_key_id}"
        )
        config = AgentConfig.load(agent_dir / "agent.toml")
        folders = OrtFolders(config.base)
        agent = start_agent(agent_dir / "agent.toml", work_dir / "agent.log")
        say(
            f"Started the site agent on the ORT folders {config.base}; log:"
            f" {work_dir / 'agent.log'}"
        )
        api = ApiClient(
            env["YC_API_URL"], key.access_key_id, key.secret_access_key, env["AWS_REGION"]
        )

        task_id, patient, _site = export_task(
            config.base, args.seed, mode=MODE, matrix=args.matrix, slices=SLICES, coils=8
        )
        exported = time.time()
        raw = folders.out / f"{task_id}.dat"
        say(
            f"ORT exported task {task_id}: {raw.name}, a Siemens VE TWIX of a Shepp-Logan"
            f" phantom ({args.matrix}x{args.matrix}, {SLICES} slices, 8 coils,"
            f" {raw.stat().st_size / 2**20:.1f} MiB) of the fictitious patient"
            f" {patient.name} ({patient.patient_id}), its .phi, then its .task"
        )
        say("Stages, timed from the export:")
        ok = watch(agent, api, folders, task_id, exported, args.timeout) == COMPLETED
        whole = time.time() - exported

        say()
        job = api.post("jobs", [task_id]).body.get(task_id, {})
        settings = Settings.from_env(env)
        currency = settings.rates.currency
        if not ok:
            say(f"Result: the task failed: {agent_row(config.base, task_id).error}")
        else:
            say(f"Result: ORT folder to PACS in {whole:.1f} s")
        study = study_of(orthanc, patient.patient_id)
        if study is None:
            say("  no study of the patient in Orthanc")
            ok = False
        else:
            instances = [
                i for series in study["Series"] for i in orthanc.series_info(series)["Instances"]
            ]
            name = study["PatientMainDicomTags"].get("PatientName", "")
            say(
                f"  Orthanc study: {orthanc.url}/app/explorer.html#study?uuid={study['ID']}"
                f" (REST: {orthanc.url}/studies/{study['ID']})"
            )
            say(f"  instances stored: {len(instances)} in {len(study['Series'])} series")
            say(
                f"  patient name as stored: {name}"
                f" ({'restored by the agent' if name == patient.name else 'NOT the exported one'};"
                " the cloud saw only the task id)"
            )
            ok = ok and name == patient.name and len(instances) == SLICES
            if instances:
                preview = save_preview(orthanc, instances, work_dir / "preview.png")
                say(f"  preview of the middle slice, as the PACS renders it: {preview}")
        if "cost" in job:
            say(f"  cost of the task: {job['cost']:.6f} {currency}")
        say(f"  whole run, start-up included: {time.monotonic() - began:.1f} s")

        if args.keep:
            say()
            say("Everything keeps running (--keep). To explore it from another shell:")
            say(f"  Orthanc: {orthanc.url}/app/explorer.html")
            for name in ("AWS_ENDPOINT_URL", "AWS_REGION"):
                say(f"  export {name}={shlex.quote(env[name])}")
            say(f"  export AWS_ACCESS_KEY_ID={key.access_key_id}")
            say(f"  export AWS_SECRET_ACCESS_KEY={shlex.quote(key.secret_access_key)}")
            say(
                f"  aws s3 ls s3://{env.get('YC_OUT_BUCKET', 'the out bucket')}/{USER}/ --recursive"
            )
            say(f"  scripts/admin --cloud {work_dir / 'ready.json'} --help")
            say(f"The agent watches {folders.out} for more ORT exports. Ctrl-C stops everything.")
            with contextlib.suppress(KeyboardInterrupt):
                process.wait()
        return 0 if ok else 1
    finally:
        if agent is not None:
            stop_agent(agent)
        if orthanc is not None:
            orthanc.stop()
        stop_cloud(process)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--keep", action="store_true", help="leave the cloud, Orthanc and the agent running"
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
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / "var" / "demo")
    parser.add_argument("--matrix", type=int, default=128, help="image matrix of the phantom scan")
    parser.add_argument(
        "--seed", type=int, default=7, help="seed of the task id, the fictitious patient, the noise"
    )
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        say("\nInterrupted; everything the demo started was stopped.")
        return 130


if __name__ == "__main__":
    sys.exit(main())
