"""C-STORE and C-ECHO against a real Orthanc, and the failures a site meets, each named clearly."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import MRImageStorage
from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification

from agent.delivery import deliver, echo, store_series
from agent.delivery.destination import destination_from_config
from agent.errors import DeliveryError
from agent.reidentify import reidentify_series
from contracts.destination import Destination
from tests.agent.delivery.series import patient, worker_series
from tests.helpers.orthanc import free_port

SHORT_TIMEOUT_S = 1.0


def _task_id(name: str) -> str:
    """A task id of its own per test, so tests sharing the session's Orthanc never collide."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://yarracloud.test/{name}"))


def _pacs(host: str, port: int, aec: str = "ORTHANC", name: str = "Main PACS") -> Destination:
    return destination_from_config(
        {
            "method": "PACS",
            "name": name,
            "ip": host,
            "port": str(port),
            "aet": "YC_TEST",
            "aec": aec,
        }
    )


def _studies_of(orthanc, study_uid: str) -> list[dict]:
    return [
        study
        for study in orthanc.get("/studies?expand")
        if study["MainDicomTags"].get("StudyInstanceUID") == study_uid
    ]


def _reidentified(tmp_path: Path, task_id: str, n_slices: int = 3) -> list[Path]:
    files = worker_series(tmp_path / "cloud", task_id, n_slices=n_slices)
    return reidentify_series(files, patient(task_id), tmp_path / "home")


def _no_patient_value(message: str) -> None:
    identity = patient()
    for value in (
        "Brennan",
        "Elowen",
        identity.patient_id,
        identity.birth_date,
        identity.accession,
    ):
        assert value not in message


def test_a_reidentified_series_is_stored_once_with_the_patient(orthanc, tmp_path: Path) -> None:
    task_id = _task_id("stored once")
    files = _reidentified(tmp_path, task_id)
    study_uid = pydicom.dcmread(files[0]).StudyInstanceUID
    destination = _pacs(orthanc.host, orthanc.dicom_port)

    store_series(files, destination, timeout_s=10)
    store_series(files, destination, timeout_s=10)

    (study,) = _studies_of(orthanc, study_uid)
    assert study["PatientMainDicomTags"]["PatientName"] == "Brennan^Elowen^Maire"
    assert study["PatientMainDicomTags"]["PatientID"] == "MRN-7731-0452"
    assert study["PatientMainDicomTags"]["PatientBirthDate"] == "19580923"
    assert study["MainDicomTags"]["AccessionNumber"] == "ACC88412907"
    assert study["MainDicomTags"]["StudyDate"] == "20240311"
    (series_id,) = study["Series"]
    instances = orthanc.series_info(series_id)["Instances"]
    assert len(instances) == 3
    tags = orthanc.tags(instances[0])
    assert tags["PatientComments"] == task_id
    assert tags["SeriesTime"] == "142507"


def test_deliver_sends_a_pacs_destination_through_c_store(orthanc, tmp_path: Path) -> None:
    task_id = _task_id("deliver dispatch")
    files = _reidentified(tmp_path, task_id, n_slices=2)
    deliver(files, _pacs(orthanc.host, orthanc.dicom_port), subfolder=task_id)
    study_uid = pydicom.dcmread(files[0]).StudyInstanceUID
    (study,) = _studies_of(orthanc, study_uid)
    assert study["PatientMainDicomTags"]["PatientID"] == "MRN-7731-0452"


def test_a_port_where_no_pacs_listens_fails_quickly_naming_the_destination(
    tmp_path: Path,
) -> None:
    files = _reidentified(tmp_path, _task_id("refused"), n_slices=1)
    port = free_port()
    started = time.monotonic()
    with pytest.raises(DeliveryError) as raised:
        store_series(files, _pacs("127.0.0.1", port), timeout_s=SHORT_TIMEOUT_S)
    assert time.monotonic() - started < 5
    message = str(raised.value)
    assert f"'Main PACS' at 127.0.0.1:{port}" in message
    assert "called AE ORTHANC" in message and "calling AE YC_TEST" in message
    assert "Connection refused" in message
    _no_patient_value(message)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word, like a hung PACS."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_a_pacs_that_never_answers_times_out_within_the_bound(
    tmp_path: Path, silent_port: int
) -> None:
    files = _reidentified(tmp_path, _task_id("silent"), n_slices=1)
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="no DICOM association opened within 1 s"):
        store_series(files, _pacs("127.0.0.1", silent_port), timeout_s=SHORT_TIMEOUT_S)
    assert time.monotonic() - started < 6


@pytest.fixture
def strict_scp() -> Iterator[tuple[int, list[int], list[str]]]:
    """A pynetdicom storage SCP that insists on its own AE title and fails every C-STORE.

    Yields its port, the list of statuses it answers, which a test may change, and the SOP
    instance UIDs it was sent.
    """
    statuses = [0xA700]
    received: list[str] = []

    def answer(event: evt.Event) -> int:
        received.append(event.request.AffectedSOPInstanceUID)
        return statuses[0]

    ae = AE(ae_title="STRICT_PACS")
    ae.require_called_aet = True
    ae.add_supported_context(MRImageStorage)
    ae.add_supported_context(Verification)
    server = ae.start_server(
        ("127.0.0.1", 0),
        block=False,
        evt_handlers=[(evt.EVT_C_STORE, answer)],
    )
    try:
        yield server.server_address[1], statuses, received
    finally:
        server.shutdown()


def test_a_wrong_called_ae_title_is_a_rejected_association(
    tmp_path: Path, strict_scp: tuple[int, list[int], list[str]]
) -> None:
    port, _, _ = strict_scp
    files = _reidentified(tmp_path, _task_id("rejected"), n_slices=1)
    with pytest.raises(DeliveryError, match="rejected the association") as raised:
        store_series(files, _pacs("127.0.0.1", port, aec="NOT_IT"), timeout_s=5)
    assert "called AE NOT_IT" in str(raised.value)
    with pytest.raises(DeliveryError, match="rejected the association"):
        echo(_pacs("127.0.0.1", port, aec="NOT_IT"), timeout_s=5)


def test_a_failure_status_names_the_file_and_the_status_never_the_patient(
    tmp_path: Path, strict_scp: tuple[int, list[int], list[str]]
) -> None:
    port, _, _ = strict_scp
    files = _reidentified(tmp_path, _task_id("failure status"), n_slices=2)
    with pytest.raises(DeliveryError) as raised:
        store_series(files, _pacs("127.0.0.1", port, aec="STRICT_PACS"), timeout_s=5)
    message = str(raised.value)
    assert "refused S001_I00001.dcm with C-STORE status 0xA700" in message
    _no_patient_value(message)


def test_a_warning_status_counts_as_stored(
    tmp_path: Path, strict_scp: tuple[int, list[int], list[str]]
) -> None:
    port, statuses, received = strict_scp
    statuses[0] = 0xB000
    files = _reidentified(tmp_path, _task_id("warning status"), n_slices=2)
    store_series(files, _pacs("127.0.0.1", port, aec="STRICT_PACS"), timeout_s=5)
    assert received == [pydicom.dcmread(f).SOPInstanceUID for f in files]


def test_a_stopped_pacs_fails_and_takes_the_series_once_it_is_back(tmp_path: Path) -> None:
    stored: list[str] = []

    def keep(event: evt.Event) -> int:
        stored.append(event.request.AffectedSOPInstanceUID)
        return 0x0000

    ae = AE(ae_title="SITE_PACS")
    ae.add_supported_context(MRImageStorage)
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, keep)])
    port = server.server_address[1]
    server.shutdown()
    files = _reidentified(tmp_path, _task_id("stopped"), n_slices=2)
    destination = _pacs("127.0.0.1", port, aec="SITE_PACS", name="Site PACS")
    with pytest.raises(DeliveryError, match=r"'Site PACS'.*cannot connect"):
        store_series(files, destination, timeout_s=SHORT_TIMEOUT_S)
    server = ae.start_server(
        ("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_STORE, keep)]
    )
    try:
        store_series(files, destination, timeout_s=5)
    finally:
        server.shutdown()
    assert stored == [pydicom.dcmread(path).SOPInstanceUID for path in files]


def test_echo_succeeds_against_orthanc_and_fails_clearly_elsewhere(orthanc) -> None:
    echo(_pacs(orthanc.host, orthanc.dicom_port), timeout_s=10)
    port = free_port()
    with pytest.raises(DeliveryError, match=f"127.0.0.1:{port}.*cannot connect"):
        echo(_pacs("127.0.0.1", port, name="Backup PACS"), timeout_s=SHORT_TIMEOUT_S)
