"""DICOM C-ECHO ("verification") of a PACS destination: does it answer us, and if not, why.

The portal's "Test" button and any other caller that must tell a person whether
a PACS is reachable with the AE titles configured use :func:`echo`; it never
raises for what the network or the PACS does, it says what happened.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Literal

from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification

Outcome = Literal["success", "rejected", "refused", "no_answer", "aborted", "failed"]


@dataclass(frozen=True)
class EchoResult:
    """What a C-ECHO came to: ``outcome`` for code, ``message`` for a person."""

    outcome: Outcome
    message: str
    reason: str = ""
    """For ``rejected``: the PACS's reason, e.g. "Called AE title not recognised"."""

    @property
    def ok(self) -> bool:
        return self.outcome == "success"


def echo(
    host: str,
    port: int,
    *,
    called_aet: str,
    calling_aet: str,
    timeout_s: float = 10,
) -> EchoResult:
    """Open an association from ``calling_aet`` to ``called_aet`` at ``host:port``, send C-ECHO.

    Parameters
    ----------
    host, port
        The PACS's DICOM address.
    called_aet
        The PACS's own AE title.
    calling_aet
        The AE title the agent sends from (which the PACS may have to know).
    timeout_s
        Bound on the TCP connect, the association negotiation and the answer.
    """
    where = f"{called_aet}@{host}:{port}"
    seen: set[str] = set()
    ae = AE(ae_title=calling_aet)
    ae.add_requested_context(Verification)
    ae.network_timeout = ae.acse_timeout = ae.dimse_timeout = timeout_s
    ae.connection_timeout = timeout_s
    handlers = [
        (evt.EVT_CONN_OPEN, lambda event: seen.add("connected")),
        (evt.EVT_PDU_RECV, lambda event: seen.add("answered")),
    ]
    try:
        association = ae.associate(host, port, ae_title=called_aet, evt_handlers=handlers)
    except (OSError, ValueError) as exc:
        return EchoResult("refused", f"{where}: cannot connect ({exc})")
    if association.is_rejected:
        primitive = association.acceptor.primitive
        reason = primitive.reason_str if primitive is not None else "no reason given"
        return EchoResult(
            "rejected",
            f"{where} rejected the association: {reason}. Check that the PACS's AE title is"
            f" {called_aet} and that the PACS accepts calls from {calling_aet}.",
            reason=reason,
        )
    if not association.is_established:
        if "connected" not in seen:
            return EchoResult("refused", f"{where}: {_no_connection(host, port, timeout_s)}")
        if "answered" not in seen:
            return EchoResult(
                "no_answer",
                f"{where}: the port accepts connections but no DICOM association opened within"
                f" {timeout_s:g} s; check that it is the PACS's DICOM port",
            )
        return EchoResult("aborted", f"{where} aborted the association; check the PACS's log")
    try:
        status = association.send_c_echo()
    finally:
        if association.is_established:
            association.release()
    code = getattr(status, "Status", None)
    if code is None:
        return EchoResult(
            "no_answer", f"{where} accepted the association but did not answer the C-ECHO"
        )
    if code != 0x0000:
        return EchoResult("failed", f"{where} answered the C-ECHO with status 0x{code:04X}")
    return EchoResult("success", f"{where} answered the C-ECHO from {calling_aet}.")


def _no_connection(host: str, port: int, timeout_s: float) -> str:
    """Why a TCP connection failed, in the operating system's words."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return f"the connection closed before a DICOM association within {timeout_s:g} s"
    except TimeoutError:
        return (
            f"no answer to a connection within {timeout_s:g} s; check the host, port and firewall"
        )
    except OSError as exc:
        return (
            f"cannot connect ({exc.strerror or exc}); check the host and port, and that the PACS"
            " runs"
        )
