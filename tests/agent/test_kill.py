"""Kill tests: an agent killed (SIGKILL) in a named step resumes and completes the task once.

The agent runs as a process of its own. A hook stops it at the start of the named step:
it writes a marker file and blocks, so the kill lands in that step every time, not
after a guessed delay. The test then SIGKILLs the process, starts a fresh agent, and
checks that the task completes exactly once: one study in Orthanc with every image,
one Batch job, the ``.phi`` archived. A PACS that refuses for a while makes the task
wait and deliver afterwards, while the agent keeps moving other tasks.

Run as a module (``python -m tests.agent.test_kill --config … --pause-at STEP --marker …``)
this file is the agent process with the hook.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from agent.config import AgentConfig
from agent.ort import OrtFolders
from agent.phi import PhiFile as OrtPhi
from agent.pipeline import Backoff
from agent.service import Agent
from agent.status import TaskState, agent_root
from scripts.local_cloud.cloud import WORKER_JOB
from tests.agent.site import (
    AGENT_SECONDS,
    SLICES,
    enable_site,
    export_task,
    run_agent_until,
    studies_of,
)
from tests.helpers.orthanc import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 120.0
KILL_STEPS = ["upload", "submit", "poll", "download", "reidentify", "deliver", "archive"]


@pytest.fixture
def agent_cloud(api_cloud: Any, orthanc: Any, tmp_path: Path) -> tuple[Any, Path]:
    """A local cloud running the real worker, and an agent config for its user at site-a."""
    cloud, _clients, _uploader, admin = api_cloud(worker_command=WORKER_JOB)
    return cloud, enable_site(admin, orthanc, tmp_path)


def agent_process(config: Path, pause_at: str | None, marker: Path) -> subprocess.Popen[bytes]:
    """An agent process: this module pausing at ``pause_at``, or ``python -m agent run``."""
    if pause_at:
        command = [sys.executable, "-m", "tests.agent.test_kill", "--config", str(config)]
        command += ["--marker", str(marker), "--pause-at", pause_at]
    else:
        command = [sys.executable, "-m", "agent", "--config", str(config), "run"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    log = (marker.parent / f"agent-{pause_at or 'resumed'}.log").open("ab")
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=log)


def wait_for_file(path: Path, process: subprocess.Popen[bytes], seconds: float) -> None:
    """Return once ``path`` exists; fail if ``process`` exits or ``seconds`` pass first."""
    deadline = seconds
    step = 0.05
    while deadline > 0:
        if path.exists():
            return
        try:
            code = process.wait(timeout=step)
        except subprocess.TimeoutExpired:
            deadline -= step
            continue
        raise AssertionError(f"the agent exited with {code} before reaching {path.name}")
    raise AssertionError(f"the agent did not reach {path.name} within {seconds:.0f} s")


def batch_jobs_for(cloud: Any, task: str) -> list[dict[str, Any]]:
    """The local Batch's jobs whose environment names ``task``."""
    jobs = []
    for job in cloud.batch.jobs():
        environment = job.get("container", {}).get("environment", [])
        if {"name": "YC_TASK_UUID", "value": task} in environment:
            jobs.append(job)
    return jobs


@pytest.mark.slow
@pytest.mark.parametrize("step", KILL_STEPS)
def test_killed_in_a_step_the_task_completes_exactly_once(
    agent_cloud: tuple[Any, Path], orthanc: Any, tmp_path: Path, step: str
) -> None:
    cloud, config_path = agent_cloud
    config = AgentConfig.load(config_path)
    seed = 100 + KILL_STEPS.index(step)
    task, patient, _site = export_task(config.base, seed=seed)
    marker = tmp_path / f"paused-{step}"

    first = agent_process(config_path, step, marker)
    try:
        wait_for_file(marker, first, START_SECONDS)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    folders = OrtFolders(config.base)
    assert folders.phi_file(task).exists(), "the task ended before the kill"

    second = agent_process(config_path, None, tmp_path / "never")
    archived = folders.phi_archive / f"{task}.phi"
    try:
        wait_for_file(archived, second, AGENT_SECONDS)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=60)
    assert second.returncode == 0, "the agent did not stop cleanly on SIGTERM"

    studies = studies_of(orthanc, patient.patient_id)
    assert len(studies) == 1
    instances = [i for s in studies[0]["Series"] for i in orthanc.series_info(s)["Instances"]]
    assert len(instances) == SLICES
    jobs = batch_jobs_for(cloud, task)
    assert len(jobs) == 1
    assert cloud.wait_for_task(task, {"DELIVERED"}, timeout=10).status == "DELIVERED"
    print(
        f"killed in {step}: resumed; 1 study, {len(instances)} instances, 1 Batch job,"
        " task DELIVERED"
    )


class PacsGate:
    """A TCP port in front of Orthanc's DICOM port: closed (refusing, as a PACS that is down)
    until :meth:`open`, then forwarding every connection to Orthanc."""

    def __init__(self, host: str, upstream_port: int) -> None:
        self.host = host
        self.upstream_port = upstream_port
        self.port = free_port()
        self._server: socket.socket | None = None

    @property
    def is_open(self) -> bool:
        return self._server is not None

    def open(self) -> None:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((self.host, self.port))
        server.listen(8)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection((self.host, self.upstream_port), timeout=30)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(source, target), daemon=True).start()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


@pytest.mark.slow
def test_pacs_down_the_task_waits_then_delivers_while_others_move(
    agent_cloud: tuple[Any, Path], orthanc: Any
) -> None:
    cloud, config_path = agent_cloud
    gate = PacsGate(orthanc.host, orthanc.dicom_port)
    # The site's config, not the cloud, says where its PACS is: point it through the gate.
    text = config_path.read_text()
    direct = f'ip = "{orthanc.host}"\nport = {orthanc.dicom_port}\n'
    assert direct in text
    config_path.write_text(text.replace(direct, f'ip = "{gate.host}"\nport = {gate.port}\n'))
    config = AgentConfig.load(config_path)
    first_task, first_patient, _ = export_task(config.base, seed=201)
    later: list[str] = []
    agent = Agent(config)
    agent.context.retry_backoff = Backoff(0.5, 2.0, 2.0)

    def before_step(uuid: str, step: str) -> None:
        # The first task finds the PACS down; a second task is exported behind it, and
        # the PACS comes back only once that task has moved all the way to delivery.
        if uuid == first_task and step == "deliver" and not later:
            later.append(export_task(config.base, seed=202)[0])
        elif later and uuid == later[0] and step == "deliver" and not gate.is_open:
            gate.open()

    agent.context.before_step = before_step
    try:
        run_agent_until(
            agent, lambda: bool(later) and {first_task, later[0]} <= agent.finished, AGENT_SECONDS
        )
    finally:
        gate.close()
    assert later and {first_task, later[0]} <= agent.finished
    first_state = TaskState(agent_root(config.base) / first_task)
    refusals = OrtPhi.load(OrtFolders(config.base).phi_archive / f"{first_task}.phi").retries(
        "STORAGE"
    )
    assert refusals >= 1
    assert first_state.get("stage") == "completed"
    assert len(studies_of(orthanc, first_patient.patient_id)) == 1
    for task in (first_task, *later):
        assert cloud.wait_for_task(task, {"DELIVERED"}, timeout=10).status == "DELIVERED"
    print(
        f"PACS down: the first task's delivery was refused {refusals} time(s) while the"
        " second task was uploaded, reconstructed and downloaded; then both were delivered"
    )


def _main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--pause-at", required=True)
    parser.add_argument("--marker", type=Path, required=True)
    args = parser.parse_args()
    from agent.cli import setup_logging

    setup_logging()
    never = threading.Event()

    def pause(uuid: str, step: str) -> None:
        if step == args.pause_at:
            args.marker.write_text(f"{uuid} {step}\n")
            never.wait()

    agent = Agent(AgentConfig.load(args.config), before_step=pause)
    signal.signal(signal.SIGTERM, lambda *_: agent.stop())
    agent.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
