"""Connection tests of a site's destinations, run by the site's agent on the hospital network.

The portal asks for one (:func:`request_test`); the agent learns which to run from
``v1/destination_tests``, runs a C-ECHO (a PACS) or a test write (a folder) against
the destination of that name in its own config, and posts what happened to
``v1/destination_test_result`` (:func:`record_result`); the portal shows it. The
cloud itself opens no connection to any destination's address: the PACS is on the
hospital network, which only the agent reaches.

A test's state is kept beside the destination on the site's record (key
``test``); storing the destination again (a changed address) drops it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from functions.core.models import Site

TEST_KEY = "test"
MESSAGE_MAX = 500
"""Longest message kept from the agent; the rest is cut."""

State = Literal["requested", "ok", "failed"]


@dataclass(frozen=True)
class ConnectionTest:
    """The last test of one destination: asked for, passed or failed, and what the agent said."""

    state: State
    requested_at: float
    finished_at: float | None = None
    message: str = ""


def request_test(site: Site, name: str, *, now: float) -> bool:
    """Ask the site's agent to test ``name``; False when the site has no such destination."""
    records = _records(site)
    if name not in records:
        return False
    records[name] = {**records[name], TEST_KEY: {"state": "requested", "requested_at": now}}
    _save(site, records)
    return True


def pending(site: Site) -> list[str]:
    """The names of the destinations whose test the agent has not answered yet."""
    return sorted(name for name, test in last_tests(site).items() if test.state == "requested")


def record_result(site: Site, name: str, *, ok: bool, message: str, now: float) -> bool:
    """Keep the agent's answer for ``name``; False when the site has no such destination."""
    records = _records(site)
    if name not in records:
        return False
    asked = last_tests(site).get(name)
    records[name] = {
        **records[name],
        TEST_KEY: {
            "state": "ok" if ok else "failed",
            "requested_at": asked.requested_at if asked else now,
            "finished_at": now,
            "message": message[:MESSAGE_MAX],
        },
    }
    _save(site, records)
    return True


def last_tests(site: Site) -> dict[str, ConnectionTest]:
    """Each destination's last test, by name; destinations never tested are left out."""
    found = {}
    for name, record in _records(site).items():
        test = record.get(TEST_KEY)
        if test:
            finished = test.get("finished_at")
            found[name] = ConnectionTest(
                state=test["state"],
                requested_at=float(test["requested_at"]),
                finished_at=float(finished) if finished is not None else None,
                message=str(test.get("message", "")),
            )
    return found


def _records(site: Site) -> dict[str, dict[str, Any]]:
    site.refresh(consistent_read=True)
    value = site.destinations
    as_dict = getattr(value, "as_dict", None)
    records = as_dict() if as_dict else dict(value or {})
    return {name: dict(record) for name, record in records.items()}


def _save(site: Site, records: dict[str, Any]) -> None:
    site.update(actions=[Site.destinations.set(records)], condition=Site.site_id.exists())
