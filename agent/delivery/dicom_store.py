"""DICOM delivery: C-STORE of a series to a PACS, and the C-ECHO that ``doctor`` runs.

One association carries a whole series. Every failure — no connection, an
association rejected or aborted, a presentation context the PACS refuses, a
C-STORE status that is not success or warning — becomes a
:class:`~agent.errors.DeliveryError` that names the destination (name,
host:port, AE titles), the file by its name and what happened, and never a
patient value. Retrying with backoff is the caller's job.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_file_meta_info
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MRImageStorage,
)
from pynetdicom import AE, evt
from pynetdicom.association import Association
from pynetdicom.sop_class import Verification

from agent.errors import BadTask, DeliveryError
from contracts.destination import Destination

DEFAULT_CALLING_AET = "YARRACLOUD"
MAX_CONTEXTS = 128
UNCOMPRESSED = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
# C-STORE statuses that mean stored: success, and the warnings B000 (coercion of data
# elements), B006 (elements discarded) and B007 (data set does not match the SOP class).
STORED = frozenset({0x0000, 0xB000, 0xB006, 0xB007})


def store_series(
    files: Sequence[Path],
    destination: Destination,
    *,
    calling_aet: str = DEFAULT_CALLING_AET,
    timeout_s: float = 30,
) -> None:
    """Store ``files`` in ``destination``'s PACS over one association.

    Parameters
    ----------
    files
        DICOM Part 10 files of one series (re-identified).
    destination
        A ``PACS`` destination; its ``aet``, where set, is the calling AE title.
    calling_aet
        The calling AE title when the destination names none.
    timeout_s
        Bound on the TCP connect, the association negotiation, each DIMSE
        answer and network silence.

    Raises
    ------
    DeliveryError
        When any file was not stored; files stored before it stay in the PACS,
        and storing them again is harmless (same UIDs).
    BadTask
        When a file is not a DICOM Part 10 file.
    """
    _require_pacs(destination)
    if not files:
        return
    syntaxes = {path: _syntax(path) for path in files}
    ae = _application_entity(destination, calling_aet, timeout_s)
    for sop_class, transfer_syntaxes in _contexts(syntaxes.values()).items():
        ae.add_requested_context(sop_class, transfer_syntaxes)
    association = _associate(ae, destination, timeout_s)
    try:
        for path in files:
            _store_one(association, path, syntaxes[path][0], destination)
    except BaseException:
        association.abort()
        raise
    association.release()


def echo(
    destination: Destination,
    *,
    calling_aet: str = DEFAULT_CALLING_AET,
    timeout_s: float = 10,
) -> None:
    """Verify that ``destination``'s PACS answers a C-ECHO from the agent's AE title.

    Raises
    ------
    DeliveryError
        When no association can be opened or the echo fails, saying why.
    """
    _require_pacs(destination)
    ae = _application_entity(destination, calling_aet, timeout_s)
    ae.add_requested_context(Verification)
    association = _associate(ae, destination, timeout_s)
    try:
        status = association.send_c_echo()
    except BaseException:
        association.abort()
        raise
    code = _status_code(status)
    if code is None:
        association.abort()
        raise DeliveryError(
            f"{destination.describe()}: C-ECHO got no answer within {timeout_s:g} s and the"
            " association was aborted; check the PACS"
        )
    association.release()
    if code != 0x0000:
        raise DeliveryError(f"{destination.describe()}: C-ECHO answered status 0x{code:04X}")


def _require_pacs(destination: Destination) -> None:
    if destination.method != "PACS":
        raise ValueError(f"{destination.describe()} is not a PACS")


def _syntax(path: Path) -> tuple[UID, UID]:
    """The SOP class and transfer syntax of a Part 10 file, read from its file meta alone."""
    try:
        meta = read_file_meta_info(path)
        return UID(meta.MediaStorageSOPClassUID), UID(meta.TransferSyntaxUID)
    except (InvalidDicomError, AttributeError, OSError, ValueError, EOFError) as error:
        raise BadTask(
            f"{path.name} is not a readable DICOM Part 10 file ({type(error).__name__});"
            " the task's images must be downloaded and re-identified again"
        ) from error


def _contexts(syntaxes: Iterable[tuple[UID, UID]]) -> dict[UID, list[UID]]:
    """Presentation contexts to request: each SOP class with the files' transfer syntaxes.

    MR Image Storage is always offered; uncompressed syntaxes are offered
    beside the files' own so that a PACS taking only one of them still accepts.
    """
    contexts: dict[UID, list[UID]] = {MRImageStorage: list(UNCOMPRESSED)}
    for sop_class, transfer_syntax in syntaxes:
        offered = contexts.setdefault(sop_class, list(UNCOMPRESSED))
        if transfer_syntax not in offered:
            offered.insert(0, transfer_syntax)
    if len(contexts) > MAX_CONTEXTS:
        raise BadTask(
            f"the series holds {len(contexts)} SOP classes, more than one association can"
            f" carry ({MAX_CONTEXTS})"
        )
    return contexts


def _application_entity(destination: Destination, calling_aet: str, timeout_s: float) -> AE:
    ae = AE(ae_title=destination.aet or calling_aet)
    ae.connection_timeout = timeout_s
    ae.acse_timeout = timeout_s
    ae.dimse_timeout = timeout_s
    ae.network_timeout = timeout_s
    return ae


def _associate(ae: AE, destination: Destination, timeout_s: float) -> Association:
    """Open an association, or say why none opened: refused, silent, rejected or aborted."""
    seen: set[str] = set()
    handlers = [
        (evt.EVT_CONN_OPEN, lambda event: seen.add("connected")),
        (evt.EVT_PDU_RECV, lambda event: seen.add("answered")),
    ]
    association = ae.associate(
        destination.ip, destination.port, ae_title=destination.aec, evt_handlers=handlers
    )
    if association.is_established:
        return association
    where = destination.describe()
    if association.is_rejected:
        raise DeliveryError(
            f"{where} rejected the association; check that the PACS knows the calling AE title"
            " and that the called AE title is its own"
        )
    if "connected" not in seen:
        raise DeliveryError(f"{where}: {_no_connection(destination, timeout_s)}")
    if "answered" not in seen:
        raise DeliveryError(
            f"{where}: the port accepts connections but no DICOM association opened within"
            f" {timeout_s:g} s; check that it is the PACS's DICOM port and that the PACS is"
            " not hung"
        )
    raise DeliveryError(
        f"{where} aborted the association while it was negotiated; check the PACS's log"
    )


def _no_connection(destination: Destination, timeout_s: float) -> str:
    """Why the TCP connection failed, in the operating system's words."""
    try:
        with socket.create_connection((destination.ip, destination.port), timeout=timeout_s):
            pass
    except TimeoutError:
        return (
            f"no answer to a connection within {timeout_s:g} s; check the host, port and firewall"
        )
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return f"cannot connect ({reason}); check that the PACS is running and its host and port"
    return "the connection failed and then succeeded; the PACS may be restarting"


def _store_one(
    association: Association, path: Path, sop_class: UID, destination: Destination
) -> None:
    try:
        status = association.send_c_store(path)
    except ValueError as error:
        raise DeliveryError(
            f"{destination.describe()} accepted no presentation context for {path.name}"
            f" (SOP class {sop_class}); the PACS must accept that SOP class"
        ) from error
    code = _status_code(status)
    if code is None:
        raise DeliveryError(
            f"{destination.describe()}: no C-STORE answer for {path.name} (association aborted"
            " or timed out); it will be sent again"
        )
    if code not in STORED:
        raise DeliveryError(
            f"{destination.describe()} refused {path.name} with C-STORE status 0x{code:04X}"
        )


def _status_code(status: object) -> int | None:
    """The Status of a DIMSE answer, or None when none came (abort, timeout)."""
    code = getattr(status, "Status", None)
    return int(code) if code is not None else None
