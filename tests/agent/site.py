"""For the agent's end-to-end tests: a site on the local cloud, ORT exports, Orthanc queries."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.service import Agent
from functions.core.destinations import Destination as SiteDestination
from scripts.phantoms.header import Patient, Site, identity_strings
from scripts.phantoms.ort import MODE
from scripts.phantoms.ort import SLICES as SLICES
from scripts.phantoms.ort import export_task as export_task  # the tests' ORT export
from scripts.phantoms.ort import task_uuid as task_uuid

SITE = "site-a"
USER = "dave"
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


def allow_folder(admin: Any, config_path: Path, folder: Path, name: str = "share") -> Path:
    """Make ``folder`` destination ``name`` of site-a, in the cloud and in the agent's config.

    The agent delivers only to the destinations its own config lists, so both are needed.
    """
    folder.mkdir()
    admin.add_destination(SITE, SiteDestination(name, "smb", location=str(folder)))
    with config_path.open("a") as config_file:
        config_file.write(
            f'[[destination]]\nmethod = "smb"\nname = "{name}"\nlocation = "{folder}"\n'
        )
    return folder
