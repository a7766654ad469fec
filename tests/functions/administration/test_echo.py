"""C-ECHO against a real Orthanc: answered, rejected for a wrong AE title, and no PACS at all."""

from __future__ import annotations

import socket

from functions.administration.echo import echo
from tests.helpers.orthanc import free_port


def test_the_pacs_answers_with_its_own_ae_title(orthanc):
    result = echo(orthanc.host, orthanc.dicom_port, called_aet=orthanc.aet, calling_aet="YARRA")
    assert result.ok, result.message
    assert result.outcome == "success"


def test_a_wrong_called_ae_title_is_rejected_with_the_pacs_reason(orthanc):
    result = echo(orthanc.host, orthanc.dicom_port, called_aet="NOTORTHANC", calling_aet="YARRA")
    assert result.outcome == "rejected"
    assert result.reason == "Called AE title not recognised"
    assert "NOTORTHANC" in result.message and not result.ok


def test_nothing_listening_is_a_refused_connection():
    port = free_port()
    result = echo("127.0.0.1", port, called_aet="PACS", calling_aet="YARRA", timeout_s=5)
    assert result.outcome == "refused"
    assert "refused" in result.message.lower()


def test_a_port_that_never_speaks_dicom_is_no_answer():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        result = echo("127.0.0.1", port, called_aet="PACS", calling_aet="YARRA", timeout_s=1)
    assert result.outcome == "no_answer", result.message
