"""End to end: a TWIX from the ORT folders through the local cloud into a real Orthanc PACS.

A synthetic Siemens VE file, written through twixtools' own writer with a fictitious
patient and site in every identity field of its header, is exported into the ORT
folder layout (raw file, ``.phi``, then the task file last under a ``.lock``). The agent
runs against the local cloud, whose Batch runs the real reconstruction worker, until
the task completes. The series must arrive in Orthanc with that patient restored, and
no byte that reached the in bucket may carry any of the patient's or site's values.
"""

from __future__ import annotations

import configparser
import logging
import random
import re
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from agent.cli import main
from agent.config import AgentConfig
from agent.ort import OrtFolders
from agent.service import Agent
from agent.status import format_table, task_rows
from functions.core.destinations import Destination as SiteDestination
from scripts.local_cloud.cloud import WORKER_JOB
from scripts.phantoms import twix_ve
from scripts.phantoms.header import Patient, Site, identity_strings
from scripts.phantoms.scan import ScanSettings, simulate
from scripts.phantoms.twix_ve import write_ve

MODE = "yc_cartesian"
SITE = "site-a"
USER = "dave"
SLICES = 4
AGENT_SECONDS = 180.0


# -- set-up shared with the kill tests --------------------------------------------------


def enable_site(admin: Any, orthanc: Any, tmp_path: Path, *, poll_seconds: float = 0.2) -> Path:
    """Enable the real worker's mode at site-a, point it at Orthanc, write an agent config.

    Returns the config's path; its base folder is ``tmp_path / "ort"``.
    """
    admin.enable_mode(SITE, MODE, vcpus=2, memory_mib=2048, spot=True, timeout_seconds=600)
    admin.add_destination(
        SITE,
        SiteDestination(
            name="orthanc",
            method="PACS",
            ip=orthanc.host,
            port=orthanc.dicom_port,
            aet="YARRACLOUD",
            aec=orthanc.aet,
        ),
    )
    config = tmp_path / "agent" / "agent.toml"
    admin.add_user(USER, SITE, agent_config=config, agent_base=tmp_path / "ort")
    text = config.read_text().replace("poll_seconds = 10", f"poll_seconds = {poll_seconds}")
    config.write_text(text.replace("concurrency = 1", "concurrency = 2"))
    return config


def task_uuid(seed: int) -> str:
    return str(uuidlib.UUID(int=random.Random(seed).getrandbits(128), version=4))


def export_task(base: Path, seed: int) -> tuple[str, Patient, Site]:
    """Export a phantom scan as ORT does in cloud mode; returns its UUID, patient and site.

    The raw file and the ``.phi`` come first; the task file is written last while
    ``{uuid}.lock`` exists.
    """
    folders = OrtFolders(base)
    task = task_uuid(seed)
    patient, site = Patient.fictitious(seed), Site.fictitious(seed)
    scan = simulate(
        ScanSettings(dimension=2, matrix=(64, 64, SLICES), coils=4, noise_scans=8, seed=seed)
    )
    raw = write_ve(scan, folders.out / f"{task}.dat", patient=patient, site=site)
    last, first = patient.name.split("^")
    phi = configparser.ConfigParser(interpolation=None)
    phi.optionxform = str  # type: ignore[assignment,method-assign]
    phi["PHI"] = {
        "NAME": f"{last}, {first}",
        "DOB": f"{patient.birth_date[:4]}-{patient.birth_date[4:6]}-{patient.birth_date[6:]}",
        "MRN": patient.patient_id,
        "ACC": f"ACC{seed:05d}",
        "UUID": task,
        "TASKID": f"{seed}",
        "MODE": MODE,
    }
    phi["LOG"] = {"CREATED": datetime.now().astimezone().isoformat(timespec="seconds")}
    with folders.phi_file(task).open("w") as out:
        phi.write(out, space_around_delimiters=False)
    lock = folders.lock_file(task)
    lock.touch()
    stamp = site.scan_time.strftime("%d/%m/%y  %H:%M:%S")
    folders.task_file(task).write_text(
        "[Task]\n"
        f"ReconMode={MODE}\nEMailNotification=\nScanFile={raw.name}\n"
        "AdjustmentFilesCount=0\nScanProtocol=yc_gre_phantom\nReconName=Cartesian\n"
        f"ParamValue=0\nRequiredServerType=\nUUID={task}\n"
        f"CreationTimeRAID={stamp}\nCreationTimeTask={stamp}\n\n"
        "[AdjustmentFiles]\n\n"
        f"[Information]\nScanFileSize={raw.stat().st_size}\n"
        f"TaskDate={site.scan_time:%d/%m/%Y}\nTaskTime={site.scan_time:%H:%M:%S}\n"
        f"SelectedServer=YarraCloud\nSerialNumber={site.serial_number}\n"
        f"SystemName={site.station_name}\nSystemVendor=Siemens\nSystemType={site.model}\n"
        "SoftwareVersion=syngo MR E11\n"
    )
    lock.unlink()
    return task, patient, site


def run_agent_until(agent: Agent, done: Callable[[], bool], seconds: float) -> None:
    """Run ``agent`` in this thread until ``done()`` or ``seconds`` pass, whichever first."""
    deadline = time.monotonic() + seconds
    agent.run(until=lambda: done() or time.monotonic() > deadline)


def studies_of(orthanc: Any, patient_id: str) -> list[dict[str, Any]]:
    """Orthanc's studies whose PatientID is ``patient_id``."""
    found = []
    for study in orthanc.studies():
        info = orthanc.get(f"/studies/{study}")
        if info["PatientMainDicomTags"].get("PatientID") == patient_id:
            found.append(info)
    return found


def forbidden_values(patient: Patient, site: Site) -> set[bytes]:
    """Every spelling of the patient's and site's values that must never reach the cloud."""
    values: set[str] = set()
    for text in identity_strings(patient, site):
        values |= {text, text.upper(), text.replace("^", " "), text.replace("^", ", ")}
    last, first = patient.name.split("^")
    values |= {f"{first} {last}", f"{last}, {first}", f"{last.upper()}^{first.upper()}"}
    for moment in (datetime.strptime(patient.birth_date, "%Y%m%d"), site.scan_time):
        values |= {
            moment.strftime(pattern)
            for pattern in ("%Y%m%d", "%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y", "%d/%m/%y")
        }
    values.add(site.serial_number)
    return {value.encode("latin-1") for value in values if len(value) >= 4}


def leaks_in_bucket(s3: Any, bucket: str, forbidden: set[bytes]) -> tuple[int, dict[str, int]]:
    """How many objects ``bucket`` holds, and key → forbidden values found, for each leaking one."""
    found: dict[str, int] = {}
    keys = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            keys += 1
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            hits = sum(1 for value in forbidden if value in body)
            if hits:
                found[item["Key"]] = hits
    return keys, found


@pytest.fixture
def site_cloud(api_cloud: Any, orthanc: Any, tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    """A local cloud running the real worker, and an agent config for its user at site-a."""
    cloud, _clients, _uploader, admin = api_cloud(worker_command=WORKER_JOB)
    yield cloud, enable_site(admin, orthanc, tmp_path)


# -- the test ---------------------------------------------------------------------------


@pytest.mark.slow
def test_twix_from_ort_reaches_orthanc_reidentified_and_no_identity_reaches_s3(
    site_cloud: tuple[Any, Path], orthanc: Any
) -> None:
    cloud, config_path = site_cloud
    config = AgentConfig.load(config_path)
    task, patient, site = export_task(config.base, seed=4711)
    folders = OrtFolders(config.base)
    forbidden = forbidden_values(patient, site)
    exported = (folders.out / f"{task}.dat").read_bytes()
    in_export = sum(value in exported for value in forbidden)
    assert in_export >= 10, "the exported raw file carries the identity the test looks for"
    agent = Agent(config)

    started = time.monotonic()
    run_agent_until(agent, lambda: task in agent.finished | agent.failed, AGENT_SECONDS)
    elapsed = time.monotonic() - started
    print(format_table(task_rows(config.base)))
    assert task in agent.finished, f"the task did not complete in {AGENT_SECONDS:.0f} s"
    print(f"task {task}: ORT folder to Orthanc in {elapsed:.1f} s")

    studies = studies_of(orthanc, patient.patient_id)
    assert len(studies) == 1
    study = studies[0]
    assert study["PatientMainDicomTags"]["PatientName"] == patient.name
    assert study["PatientMainDicomTags"]["PatientBirthDate"] == patient.birth_date
    assert study["MainDicomTags"]["AccessionNumber"] == "ACC04711"
    assert study["MainDicomTags"]["StudyDate"] == f"{site.scan_time:%Y%m%d}"
    instances = [i for s in study["Series"] for i in orthanc.series_info(s)["Instances"]]
    assert len(instances) == SLICES
    tags = orthanc.tags(instances[0])
    assert task in tags["PatientComments"]
    print(
        f"Orthanc: 1 study, {len(study['Series'])} series, {len(instances)} instances,"
        " patient name, ID, birth date, accession and exam date restored"
    )

    archived = folders.phi_archive / f"{task}.phi"
    assert archived.exists() and not folders.phi_file(task).exists()
    vault = configparser.ConfigParser(interpolation=None)
    vault.read(archived)
    assert vault["STATUS"]["RESULT"] == "Completed"
    for event in ("UPLOAD_BEGIN", "UPLOAD_END", "DOWNLOAD_END", "STORAGE_END", "COMPLETED"):
        assert vault["LOG"][event]
    assert not (folders.out / f"{task}.dat").exists()
    assert cloud.wait_for_task(task, {"DELIVERED"}, timeout=10).status == "DELIVERED"

    s3 = boto3.client("s3")
    objects, report = leaks_in_bucket(s3, cloud.settings.in_bucket, forbidden)
    print(
        f"in bucket: {objects} objects scanned for {len(forbidden)} forbidden spellings"
        f" ({in_export} of them in the exported raw file); leaks: {report or 'none'}"
    )
    assert objects >= 2
    assert report == {}


@pytest.mark.slow
def test_bad_inputs_stop_with_a_clear_message_and_nothing_is_uploaded(
    api_cloud: Any,
    orthanc: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cloud, _clients, _uploader, admin = api_cloud()
    config_path = enable_site(admin, orthanc, tmp_path)
    config = AgentConfig.load(config_path)
    folders = OrtFolders(config.base)
    people = []

    not_twix, *who = export_task(config.base, seed=301)
    people.append(who)
    (folders.out / f"{not_twix}.dat").write_bytes(random.Random(1).randbytes(20000))
    truncated, *who = export_task(config.base, seed=302)
    people.append(who)
    with (folders.out / f"{truncated}.dat").open("r+b") as raw:
        raw.truncate(12000)
    buffers = twix_ve.measurement_buffers

    def with_nickname(*args: Any, **kwargs: Any) -> dict[str, str]:
        out = buffers(*args, **kwargs)
        out["Config"] = out["Config"].replace(
            '  <ParamLong."MeasUID">',
            '  <ParamString."tPatientNickname">  { "Janey"  }\n  <ParamLong."MeasUID">',
        )
        return out

    with monkeypatch.context() as patch:
        patch.setattr(twix_ve, "measurement_buffers", with_nickname)
        unknown_field, *who = export_task(config.base, seed=303)
    people.append(who)
    orphan, *who = export_task(config.base, seed=304)
    people.append(who)
    folders.task_file(orphan).unlink()

    caplog.set_level(logging.INFO)
    agent = Agent(config)
    bad = {not_twix, truncated, unknown_field}
    run_agent_until(agent, lambda: bad <= agent.failed, 60)
    assert bad <= agent.failed and not agent.finished

    capsys.readouterr()
    assert main(["--config", str(config_path), "status"]) == 0
    table = capsys.readouterr().out
    print(table)
    rows = {row.uuid: row for row in task_rows(config.base)}
    for task in bad:
        assert rows[task].stage == "failed" and "nothing was uploaded" in rows[task].error.lower()
        assert task in table
    assert "tPatientNickname" in rows[unknown_field].error
    assert rows[orphan].stage.startswith("no task file")
    objects, _ = leaks_in_bucket(boto3.client("s3"), cloud.settings.in_bucket, set())
    assert objects == 0, "something was uploaded"
    logged = caplog.text + table
    errors = {getattr(r, "task_id", "") for r in caplog.records if r.levelno >= logging.ERROR}
    assert bad <= errors, "each refused task is named in the log"
    warned = {getattr(r, "task_id", "") for r in caplog.records if r.levelno == logging.WARNING}
    assert orphan in warned
    for patient, site in people:
        leaked = [v for v in forbidden_values(patient, site) if v.decode() in logged]
        assert leaked == [], "a patient or site value reached the log or the status table"
    assert "Janey" not in logged

    assert main(["--config", str(config_path), "retry", not_twix]) == 0
    assert "retried from step deidentify" in capsys.readouterr().out
    assert {row.uuid: row for row in task_rows(config.base)}[not_twix].stage == "queued"
    again = Agent(config)
    run_agent_until(again, lambda: not_twix in again.failed, 60)
    runs = [getattr(r, "task_id", "") for r in caplog.records if r.levelno >= logging.ERROR]
    assert runs.count(not_twix) == 2 and runs.count(truncated) == 1, "only the retried task ran"

    broken = config_path.with_name("broken.toml")
    broken.write_text(config_path.read_text().replace("concurrency =", "concurency ="))
    assert main(["--config", str(broken), "status"]) == 2
    message = capsys.readouterr().err
    print(message)
    assert "concurency" in message and "[agent]" in message


@pytest.mark.slow
def test_doctor_passes_and_submit_queues_a_raw_file_from_anywhere(
    site_cloud: tuple[Any, Path], orthanc: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _cloud, config_path = site_cloud
    capsys.readouterr()
    assert main(["--config", str(config_path), "doctor"]) == 0
    report = capsys.readouterr().out
    print(report)
    assert "FAIL" not in report
    for check in ("config", "api", "clock", "buckets", "destination orthanc", "disk"):
        assert check in report

    patient, site = Patient.fictitious(501), Site.fictitious(501)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    scan = simulate(ScanSettings(dimension=2, matrix=(64, 64, SLICES), coils=4, seed=501))
    raw = write_ve(scan, elsewhere / "scan.dat", patient=patient, site=site)
    before = raw.read_bytes()
    command = ["--config", str(config_path), "submit", str(raw), "--mode", MODE, "--acc", "A501"]
    assert main(command) == 0
    answer = capsys.readouterr().out
    print(answer)
    match = re.search(r"queued task ([0-9a-f-]{36})", answer)
    assert match, answer
    task = match.group(1)

    config = AgentConfig.load(config_path)
    agent = Agent(config)
    run_agent_until(agent, lambda: task in agent.finished | agent.failed, AGENT_SECONDS)
    assert task in agent.finished
    studies = studies_of(orthanc, patient.patient_id)
    assert len(studies) == 1
    assert studies[0]["PatientMainDicomTags"]["PatientName"] == patient.name
    assert studies[0]["MainDicomTags"]["AccessionNumber"] == "A501"
    assert raw.read_bytes() == before, "the submitted file is left as it was"
    print(f"submitted {raw.name} as task {task}: delivered to Orthanc with its patient")
