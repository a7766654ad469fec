"""Scanner software versions whose raw headers de-identification is known to handle.

A header from another version may carry identity in a field or form that is
not covered, so it is refused until the site reports the version and it is
checked and added here.
"""

from __future__ import annotations

import re

from agent.errors import DeidRefused

KNOWN_VERSIONS = ("B17", "D13", "E11", "XA20", "XA30", "XA50", "XA60")
"""syngo MR software lines (VB17, VD13, VE11, XA20 …) known to work."""

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
        When neither names a version, or the version is not known to work.
    """
    found = _SOFTWARE.search(software_versions) or _BASELINE.search(baseline)
    if found is None:
        raise DeidRefused(
            "the raw file's header names no scanner software version (SoftwareVersions or "
            "tBaselineString); it was not uploaded. Export the raw data again with the "
            "scanner's own tools, or report the file to YarraCloud support"
        )
    line = found.group(1)
    if line not in KNOWN_VERSIONS:
        shown = (software_versions or baseline)[:40]
        raise DeidRefused(
            f"scanner software {shown!r} (line {line}) is not known to de-identify safely "
            f"(known: {', '.join(KNOWN_VERSIONS)}); nothing was uploaded. Report the software "
            "version to YarraCloud support so that it can be checked and added"
        )
    return line
