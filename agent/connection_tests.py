"""Connection tests the portal asks for, run by the agent where the destinations are.

The portal's "Test" button only records a request in the cloud; the agent fetches
the names asked for (``v1/destination_tests``), tests the destination of that name
in its own config — a C-ECHO for a PACS, a test write for a folder, as ``doctor``
does — and posts the outcome (``v1/destination_test_result``). A name the config
does not list is answered as failed, with why: the agent delivers nowhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from agent.api import CloudApi
from agent.doctor import Finding, check_destination
from agent.errors import CloudError
from contracts.destination import Destination

logger = logging.getLogger("yarracloud.agent")

NOT_ALLOWED = (
    "the agent's config on the site's host lists no destination of this name, so the"
    " agent never delivers there; add it as a [[destination]] there if the site wants it"
)


def run_requested_tests(
    api: CloudApi,
    destinations: Sequence[Destination],
    check: Callable[[Destination], Finding] = check_destination,
) -> list[str]:
    """Test each destination the portal asked about and post the outcome; returns the names.

    A cloud that cannot be asked or told is logged and tried again at the next call.
    """
    try:
        names = api.destination_tests()
    except CloudError as error:
        logger.warning("cannot ask the cloud for connection tests: %s", error)
        return []
    allowed = {destination.name: destination for destination in destinations}
    for name in names:
        destination = allowed.get(name)
        if destination is None:
            ok, message = False, NOT_ALLOWED
        else:
            finding = check(destination)
            ok, message = finding.level == "ok", finding.message
        try:
            api.destination_test_result(name, ok=ok, message=message)
        except CloudError as error:
            logger.warning("cannot post the connection test of %s: %s", name, error)
            continue
        logger.info("connection test of %s: %s", name, "passed" if ok else "failed")
    return names
