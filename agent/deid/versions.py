"""Scanner software versions whose raw headers de-identification has been checked against.

They are the catalogue's ``software`` entries (``catalogue.json``), each naming the
headers it was checked against. A header from another version may carry identity
in a field or form that is not covered, so it is refused until the site reports
the version and its headers are checked and added to the catalogue.
"""

from __future__ import annotations

import re

from agent.deid.catalogue import catalogue
from agent.errors import DeidRefused

_SOFTWARE = re.compile(r"syngo\s+MR\s+([A-Z]{1,2}\d{2})[A-Z]?\b")
_BASELINE = re.compile(r"N4_V?([A-Z]{1,2}\d{2})[A-Z]?_")


def software_line(software_versions: str, baseline: str = "") -> str:
    """The software line (``E11``) of ``SoftwareVersions`` or, failing that, the baseline string.

    Parameters
    ----------
    software_versions
        The Dicom buffer's ``SoftwareVersions`` (``syngo MR E11``), or ''.
    baseline
        ASCCONV ``sProtConsistencyInfo.tBaselineString`` (``N4_VE11C_LATEST_20160120``), or ''.

    Raises
    ------
    DeidRefused
        When neither names a version, or its headers have not been checked.
    """
    found = _SOFTWARE.search(software_versions) or _BASELINE.search(baseline)
    if found is None:
        raise DeidRefused(
            "the raw file's header names no scanner software version (SoftwareVersions or "
            "tBaselineString); it was not uploaded. Export the raw data again with the "
            "scanner's own tools, or report the file to YarraCloud support"
        )
    line = found.group(1)
    accepted = catalogue().software
    if line not in accepted:
        shown = (software_versions or baseline)[:40]
        raise DeidRefused(
            f"scanner software {shown!r} (line {line}) has not been checked for "
            f"de-identification (checked: {', '.join(accepted)}); nothing was uploaded. Report "
            "the software version to YarraCloud support so that its headers can be checked"
        )
    return line
