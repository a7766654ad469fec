"""A phantom scan exported into the ORT folders as the Yarra ORT client does in cloud mode.

Used by the demo and by the agent's tests: the raw file and its ``.phi`` come first,
then the task file, written while ``{uuid}.lock`` exists; the lock goes last.
"""

from __future__ import annotations

import configparser
import random
import uuid as uuidlib
from datetime import datetime
from pathlib import Path

from agent.ort import OrtFolders
from scripts.phantoms.header import Patient, Site
from scripts.phantoms.scan import ScanSettings, simulate
from scripts.phantoms.twix_ve import write_ve

MODE = "yc_cartesian"
SLICES = 4


def task_uuid(seed: int) -> str:
    """The task UUID for ``seed``: the same seed gives the same UUID."""
    return str(uuidlib.UUID(int=random.Random(seed).getrandbits(128), version=4))


def export_task(
    base: Path,
    seed: int,
    *,
    mode: str = MODE,
    matrix: int = 64,
    slices: int = SLICES,
    coils: int = 4,
) -> tuple[str, Patient, Site]:
    """Export a phantom scan as ORT does in cloud mode; returns its UUID, patient and site.

    The scan is a Siemens VE TWIX of a Shepp-Logan phantom (``matrix`` square,
    ``slices`` slices, ``coils`` coils) whose header carries the fictitious patient
    and site of ``seed`` in every identity field. The raw file and the ``.phi`` come
    first; the task file is written last while ``{uuid}.lock`` exists.
    """
    folders = OrtFolders(base)
    task = task_uuid(seed)
    patient, site = Patient.fictitious(seed), Site.fictitious(seed)
    scan = simulate(
        ScanSettings(
            dimension=2, matrix=(matrix, matrix, slices), coils=coils, noise_scans=8, seed=seed
        )
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
        "MODE": mode,
    }
    phi["LOG"] = {"CREATED": datetime.now().astimezone().isoformat(timespec="seconds")}
    with folders.phi_file(task).open("w") as out:
        phi.write(out, space_around_delimiters=False)
    lock = folders.lock_file(task)
    lock.touch()
    stamp = site.scan_time.strftime("%d/%m/%y  %H:%M:%S")
    folders.task_file(task).write_text(
        "[Task]\n"
        f"ReconMode={mode}\nEMailNotification=\nScanFile={raw.name}\n"
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
