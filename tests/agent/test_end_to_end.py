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
import json
import logging
import random
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from agent.cli import main
from agent.config import AgentConfig
from agent.ort import OrtFolders
from agent.phi import PhiFile
from agent.service import Agent
from agent.status import format_table, task_rows
from scripts.local_cloud.cloud import WORKER_JOB
from scripts.phantoms import twix_ve
from scripts.phantoms.header import Patient, Site
from scripts.phantoms.scan import ScanSettings, simulate
from scripts.phantoms.twix_ve import write_ve
from tests.agent.deid.real_file import (
    IDENTITY_VALUES,
    REAL_FILE,
    changes_outside_masking,
    identity_in,
    unmasked_fields,
)
from tests.agent.site import (
    AGENT_SECONDS,
    MODE,
    SLICES,
    USER,
    enable_site,
    export_task,
    forbidden_values,
    leaks_in_bucket,
    run_agent_until,
    studies_of,
)


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


@pytest.mark.slow
def test_a_wrong_secret_fails_the_task_in_status_and_doctor_and_uploads_nothing(
    api_cloud: Any, orthanc: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud, _clients, _uploader, admin = api_cloud(poll=False)
    config_path = enable_site(admin, orthanc, tmp_path)
    config = AgentConfig.load(config_path)
    config.secret_file.write_text("not-the-secret-the-portal-showed\n")
    task, _patient, _site = export_task(config.base, seed=311)

    capsys.readouterr()
    assert main(["--config", str(config_path), "doctor"]) == 1
    report = capsys.readouterr().out
    print(report)
    assert "FAIL" in report and "signature" in report

    agent = Agent(AgentConfig.load(config_path))
    run_agent_until(agent, lambda: task in agent.failed | agent.finished, 60)
    assert task in agent.failed
    assert main(["--config", str(config_path), "status"]) == 0
    table = capsys.readouterr().out
    print(table)
    row = {row.uuid: row for row in task_rows(config.base)}[task]
    assert row.stage == "failed" and "signature" in row.error
    assert row.error in table and "not-the-secret" not in table
    objects, _ = leaks_in_bucket(boto3.client("s3"), cloud.settings.in_bucket, set())
    assert objects == 0, "something was uploaded with a key the cloud refuses"


@pytest.mark.slow
def test_the_real_e11_file_reaches_orthanc_and_none_of_its_identity_reaches_the_cloud(
    site_cloud: tuple[Any, Path],
    orthanc: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    cloud, config_path = site_cloud
    caplog.set_level(logging.INFO)
    raw = tmp_path / "elsewhere" / "meas_MID00358_FID66333_gre.dat"
    raw.parent.mkdir()
    shutil.copyfile(REAL_FILE, raw)
    original = REAL_FILE.read_bytes()

    assert main(["--config", str(config_path), "submit", str(raw), "--mode", MODE]) == 0
    match = re.search(r"queued task ([0-9a-f-]{36})", capfd.readouterr().out)
    assert match
    task = match.group(1)
    config = AgentConfig.load(config_path)
    folders = OrtFolders(config.base)
    phi = PhiFile.load(folders.phi_file(task))
    assert (phi.get("PHI", "NAME"), phi.get("PHI", "DOB")) == ("xxxxxxx", "")
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("birth date" in r.getMessage() and r.task_id == task for r in warned)

    agent = Agent(config)
    run_agent_until(agent, lambda: task in agent.finished | agent.failed, AGENT_SECONDS)
    assert main(["--config", str(config_path), "status"]) == 0
    assert task in agent.finished, format_table(task_rows(config.base))
    studies = studies_of(orthanc, "x" * 48)
    assert len(studies) == 1
    assert studies[0]["PatientMainDicomTags"]["PatientName"] == "xxxxxxx"
    assert not studies[0]["PatientMainDicomTags"].get("PatientBirthDate")
    assert studies[0]["MainDicomTags"]["StudyDate"] == "20210622"

    s3 = boto3.client("s3")
    uploaded = s3.get_object(Bucket=cloud.settings.in_bucket, Key=f"{USER}/{task}/{task}.dat")[
        "Body"
    ].read()
    assert len(uploaded) == len(original)
    assert changes_outside_masking(original, uploaded) == []
    assert unmasked_fields(uploaded) == []
    leaks: dict[str, list[str]] = {}
    objects = 0
    for bucket in (cloud.settings.in_bucket, cloud.settings.out_bucket):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                objects += 1
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                leaks.update({item["Key"]: found} for found in [identity_in(body)] if found)
    dynamodb = boto3.client("dynamodb")
    records = 0
    for table in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                records += 1
                if found := identity_in(json.dumps(item)):
                    leaks[f"{table} record"] = found
    worker_logs = sorted((Path(cloud.work_dir) / "logs").rglob("*.log"))
    captured = capfd.readouterr()
    logs = {
        "log records": "\n".join(r.getMessage() for r in caplog.records),
        "stdout and stderr": captured.out + captured.err,
        **{f"worker log {path.name}": path.read_text() for path in worker_logs},
    }
    lines = sum(text.count("\n") + 1 for text in logs.values())
    leaks.update({name: found for name, text in logs.items() if (found := identity_in(text))})
    print(
        f"real E11 file as task {task}: {objects} objects, {records} cloud records and"
        f" {lines} log lines searched for {len(IDENTITY_VALUES)} identity values;"
        f" leaks: {leaks or 'none'}"
    )
    assert objects >= 4 and records >= 5 and worker_logs
    assert leaks == {}
