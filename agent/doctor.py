"""``yarracloud-agent doctor``: checks the agent's set-up end to end and says what to fix.

Each check gives one :class:`Finding` — ``ok``, ``warn`` or ``fail`` with a line saying
what was found and, when not ok, what to do. The checks: the config and the key file
(read by :meth:`AgentConfig.load`), the API and the key it signs with
(``v1/user_status``), the clock against the API's ``Date`` header (SigV4 refuses a
clock more than five minutes off), both buckets, each ``[[destination]]`` of the
config (C-ECHO for a PACS, a test write for a folder), that the cloud's choice of
destinations per mode names only those, and the free disk space under the base folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from agent.api import CloudApi
from agent.config import AgentConfig
from agent.delivery.destination import destination_from_config
from agent.delivery.dicom_store import echo
from agent.errors import AgentError, ConfigError
from agent.ort import OrtFolders
from contracts.destination import Destination

SKEW_FAIL_S = 240.0
"""SigV4 refuses requests signed more than 5 minutes off; fail with a margin."""
SKEW_WARN_S = 30.0
DISK_FAIL_BYTES = 2 * 2**30
DISK_WARN_BYTES = 20 * 2**30


@dataclass(frozen=True)
class Finding:
    """The result of one check."""

    level: Literal["ok", "warn", "fail"]
    check: str
    message: str


def _ok(check: str, message: str) -> Finding:
    return Finding("ok", check, message)


def _warn(check: str, message: str) -> Finding:
    return Finding("warn", check, message)


def _fail(check: str, message: str) -> Finding:
    return Finding("fail", check, message)


def check_config(path: Path) -> tuple[AgentConfig | None, Finding]:
    """Load the config (and its key file, whose permissions the loader checks)."""
    try:
        config = AgentConfig.load(path)
    except ConfigError as error:
        return None, _fail("config", str(error))
    return config, _ok(
        "config", f"{config.path} is valid; key file {config.secret_file} is readable only by you"
    )


def check_api(api: CloudApi) -> tuple[dict[str, Any] | None, list[Finding]]:
    """``v1/user_status`` with the agent's key, and the clock against the answer's Date."""
    try:
        status = api.user_status()
    except AgentError as error:
        return None, [_fail("api", f"{api.base_url}: {error}")]
    findings = []
    if status.get("can_submit_jobs"):
        findings.append(_ok("api", f"signed in as {status.get('username')}; jobs can be submitted"))
    else:
        reason = status.get("reason") or "no reason given"
        findings.append(_fail("api", f"the cloud refuses jobs from this user: {reason}"))
    skew = api.clock_skew_s()
    if skew is None:
        findings.append(_warn("clock", "the API's answer had no Date header; clock not checked"))
    elif abs(skew) >= SKEW_FAIL_S:
        findings.append(
            _fail(
                "clock",
                f"this host's clock is {abs(skew):.0f} s {'behind' if skew > 0 else 'ahead of'}"
                " the cloud's; signed requests will be refused: enable NTP (timedatectl"
                " set-ntp true, or the Windows Time service)",
            )
        )
    elif abs(skew) >= SKEW_WARN_S:
        findings.append(
            _warn("clock", f"this host's clock is {abs(skew):.0f} s off the cloud's; enable NTP")
        )
    else:
        findings.append(_ok("clock", f"within {max(abs(skew), 1.0):.0f} s of the cloud's"))
    return status, findings


def check_buckets(s3: Any, status: dict[str, Any]) -> list[Finding]:
    """A listing of the user's own prefix in the in and the out bucket.

    A connection that fails is reported as one, naming the endpoint; only a refusal
    from S3 points at the user's policy.
    """
    findings = []
    prefix = f"{status.get('username', '')}/"
    endpoint = s3.meta.endpoint_url
    for which in ("in_bucket", "out_bucket"):
        bucket = status.get(which, "")
        label = which.replace("_", " ")
        try:
            s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as error:
            findings.append(
                _fail(
                    "buckets",
                    f"cannot connect to S3 at {endpoint} for {label} {bucket}"
                    f" ({type(error).__name__}); check the network, and [cloud] s3_endpoint"
                    " for a local or private cloud (AWS_ENDPOINT_URL overrides it)",
                )
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            findings.append(
                _fail(
                    "buckets",
                    f"S3 at {endpoint} refused listing {prefix} in {label} {bucket}"
                    f" ({code or type(error).__name__}); ask the operator to check the user's"
                    " policy and the region in [cloud] region",
                )
            )
        except BotoCoreError as error:
            findings.append(
                _fail(
                    "buckets",
                    f"cannot list {prefix} in {label} {bucket} at {endpoint}"
                    f" ({type(error).__name__}); check [cloud] s3_endpoint and [cloud] region",
                )
            )
        else:
            findings.append(_ok("buckets", f"{label} {bucket} reachable at {endpoint}"))
    return findings


def destinations_to_check(config: AgentConfig) -> list[Destination]:
    """The config's ``[[destination]]`` entries: the only places the agent delivers to.

    Raises
    ------
    ConfigError
        When a table cannot be parsed.
    """
    return [destination_from_config(table) for table in config.destinations]


def check_cloud_choices(allowed: Sequence[Destination], api: CloudApi) -> list[Finding]:
    """Fail for each destination the cloud names for a mode that the config does not allow."""
    names = {destination.name for destination in allowed}
    findings = []
    for mode in api.modes():
        listed = [str(entry.get("name", "")) for entry in api.mode_destinations(mode["Name"])]
        unknown = sorted(set(listed) - names)
        if unknown:
            findings.append(
                _fail(
                    f"mode {mode['Name']}",
                    f"the cloud sends this mode's images to {', '.join(unknown)}, which the"
                    " config does not list; its tasks will fail until a [[destination]] of"
                    " that name is added or the portal chooses another",
                )
            )
    return findings


def check_destination(
    destination: Destination, echo_fn: Callable[[Destination], None] = echo
) -> Finding:
    """C-ECHO a PACS; write and remove a file in a folder destination."""
    check = f"destination {destination.name}"
    if destination.method == "PACS":
        try:
            echo_fn(destination)
        except AgentError as error:
            return _fail(
                check,
                f"{error}; check the PACS is up and accepts this agent's AE title, host and port",
            )
        return _ok(check, f"{destination.describe()} answers C-ECHO")
    folder = destination.folder
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".yarracloud-doctor-"):
            pass
    except OSError as error:
        return _fail(
            check,
            f"cannot write into {folder} ({error.strerror}); mount the share and give the"
            " agent's user write access",
        )
    return _ok(check, f"{destination.describe()} is writable")


def check_disk(base: Path) -> Finding:
    """Free space under the base folder: raw files and results pass through it."""
    try:
        free = shutil.disk_usage(base).free
    except OSError as error:
        return _fail("disk", f"cannot read the free space of {base} ({error.strerror})")
    gib = free / 2**30
    if free < DISK_FAIL_BYTES:
        return _fail("disk", f"only {gib:.1f} GiB free under {base}; free space or move [folders]")
    if free < DISK_WARN_BYTES:
        return _warn("disk", f"{gib:.1f} GiB free under {base}; large scans may not fit")
    return _ok("disk", f"{gib:.0f} GiB free under {base}")


def check_folders(base: Path) -> Finding:
    """The ORT folders exist (or can be created) and are writable by the agent."""
    try:
        folders = OrtFolders(base)
    except OSError as error:
        return _fail("folders", f"cannot create the ORT folders under {base} ({error.strerror})")
    for folder in (folders.out, folders.inbox, folders.phi, folders.phi_archive):
        if not os.access(folder, os.W_OK):
            return _fail("folders", f"{folder} is not writable by the agent's user")
    return _ok("folders", f"ORT folders under {base} are in place")


def run_checks(config_path: Path, *, s3_factory: Callable[[AgentConfig], Any]) -> list[Finding]:
    """Every check in order; later checks are skipped when the config cannot be read."""
    config, finding = check_config(config_path)
    findings = [finding]
    if config is None:
        return findings
    findings.append(check_folders(config.base))
    findings.append(check_disk(config.base))
    api = CloudApi(config.api_url, config.access_key_id, config.secret, config.region)
    status, api_findings = check_api(api)
    findings += api_findings
    if status is None:
        return findings
    findings += check_buckets(s3_factory(config), status)
    try:
        destinations = destinations_to_check(config)
        findings += check_cloud_choices(destinations, api)
    except AgentError as error:
        findings.append(_fail("destinations", str(error)))
        return findings
    if not destinations:
        findings.append(
            _fail(
                "destinations",
                "the config allows no destination: add the site's PACS or folder as a"
                " [[destination]] (images go nowhere else)",
            )
        )
    findings += [check_destination(destination) for destination in destinations]
    return findings


def format_findings(findings: Sequence[Finding]) -> str:
    """One line per check, then a verdict."""
    lines = [f"{f.level.upper():<4}  {f.check:<24} {f.message}" for f in findings]
    failed = sum(f.level == "fail" for f in findings)
    warned = sum(f.level == "warn" for f in findings)
    if failed:
        lines.append(f"{failed} check(s) failed: fix them, then run doctor again.")
    elif warned:
        lines.append(f"All essential checks passed ({warned} warning(s)).")
    else:
        lines.append("All checks passed.")
    return "\n".join(lines)
