"""The operator's command for a local cloud: sites, modes, destinations, users and their keys.

    scripts/admin [--cloud READY_FILE] COMMAND ...

    site add SITE_ID --name NAME
    site billing SITE_ID stripe --email EMAIL --line1 STREET --city CITY
                                --postal-code CODE --country CC [--line2 MORE]
    site billing SITE_ID none
    stripe setup --portal-url URL --restricted-key-file FILE [--currency CUR]
                 (the set-up key, allowed to write the catalogue, in STRIPE_SETUP_KEY)
    stripe resend-rejected [--site SITE_ID]
    mode publish MODE_ID --name NAME [--tag TAG] [--param-label LABEL ...]
    mode publish [MODE_ID] --mode-file FILE.mode
    mode publish --folder DIR
    mode enable SITE_ID MODE_ID [--vcpus N] [--memory-mib N] [--spot | --on-demand]
                                [--timeout-seconds N]
    mode disable SITE_ID MODE_ID
    destination add SITE_ID NAME (--pacs HOST:PORT --aet AET --aec AEC | --folder PATH)
                                 [--mode MODE ...]
    destination remove SITE_ID NAME
    user add USER --site SITE_ID [--agent-config FILE.toml] [--agent-base DIR]
    key rotate USER
    key revoke ACCESS_KEY_ID
    key deactivate ACCESS_KEY_ID

It works against a running local cloud (``python -m scripts.local_cloud``): the
ready file that command writes names the emulator, the tables and the credential
store. The operations themselves are ``administration``'s, which the
portal uses too; this command words their results and remedies for a shell.
Mistakes a person can make (an unknown site, a missing AE title, a file that is
already there) end with exit status 2 and a message saying what to do.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import stripe
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from administration import destinations, mode_settings, sites
from administration.agent_config import (
    AGENT_DEFAULTS,
    agent_config_text,
    secret_file_for,
    toml_string,
    write_agent_config,
    write_secret_file,
)
from administration.billing import BillingChange, set_billing_mode
from administration.errors import (
    AdministrationError,
    OutOfRange,
    TooManyKeys,
    UnknownKey,
    UnknownMode,
    UnknownSite,
    UserExists,
)
from administration.site_users import NewKey, SiteUsers, check_user_name
from contracts.yarra_ini import parse_yarra_ini
from functions.billing.stripe_gateway import BillingContact, BillingNotConfigured, StripeGateway
from functions.billing.stripe_secret import read_secret, with_stripe_secret
from functions.billing.stripe_setup import StripeSetup
from functions.core.destinations import Destination
from functions.core.errors import ConfigurationError
from functions.core.models import ModeCatalog, ModeSettings, Site, bind_models
from functions.core.modes import CLIENT_CONFIG_KEYS, InvalidClientConfig
from functions.core.settings import Settings
from functions.work.billing_outbox import Outbox
from recon_image.errors import ReconError
from scripts.local_cloud.cloud import LOCAL_ACCOUNT, REPO_ROOT
from scripts.local_cloud.credentials import Credential, CredentialStore
from scripts.local_cloud.modes import publish_modes
from scripts.local_cloud.resources import Deployment, Resources

__all__ = [
    "AGENT_DEFAULTS",
    "Admin",
    "AdminError",
    "CredentialStoreHook",
    "NewKey",
    "agent_config_text",
    "main",
    "secret_file_for",
    "toml_string",
    "write_agent_config",
    "write_secret_file",
]

DEFAULT_READY_FILE = REPO_ROOT / "var" / "local-cloud" / "ready.json"
CREDENTIALS_VARIABLE = "YC_LOCAL_CREDENTIALS"
API_URL_VARIABLE = "YC_API_URL"
WRITTEN_BY = "scripts/admin"

_IAM_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5)
_FLAGS = {"vcpus": "--vcpus", "memory_mib": "--memory-mib", "timeout_seconds": "--timeout-seconds"}

AdminError = AdministrationError
"""Something the person at the keyboard can fix; the message says how."""


@dataclass(frozen=True)
class CredentialStoreHook:
    """Keeps the local cloud's credential store in step with IAM's keys."""

    store: CredentialStore

    def key_created(self, key: NewKey) -> None:
        self.store.put(Credential(key.access_key_id, key.secret_access_key, key.user_name))

    def key_deleted(self, user_name: str, access_key_id: str) -> None:
        self.store.remove(access_key_id)


# -- connecting ------------------------------------------------------------------------


def read_ready_file(path: Path) -> dict[str, str]:
    """The environment the local cloud published in its ready file."""
    try:
        env = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise AdminError(
            f"no local cloud is described at {path}: start one with `python -m scripts.local_cloud`"
            " (it writes that file once it is up), or name its ready file with --cloud FILE"
        ) from None
    except (OSError, ValueError) as exc:
        raise AdminError(f"cannot read the ready file {path}: {exc}") from None
    if not isinstance(env, dict):
        raise AdminError(f"{path} is not a local cloud's ready file (expected a JSON object)")
    return {str(k): str(v) for k, v in env.items()}


def resources_for(settings: Settings) -> Resources:
    """The resource names of the deployment whose tables ``settings`` names.

    The prefix is read back from the task table's name through the template in
    ``terraform/resources.json``, so the ready file need not carry it.
    """
    template = Resources(Deployment("", settings.region, LOCAL_ACCOUNT)).raw["tables"]["task"]
    head, _, tail = template["name"].partition("{prefix}")
    table = settings.task_table
    if not (table.startswith(head) and table.endswith(tail) and len(table) > len(head + tail)):
        raise AdminError(
            f"the task table {table!r} does not follow terraform/resources.json"
            f" ({template['name']!r}); restart the local cloud from this checkout"
        )
    prefix = table[len(head) : len(table) - len(tail)]
    return Resources(Deployment(prefix, settings.region, LOCAL_ACCOUNT))


@contextlib.contextmanager
def _in_shell_terms(mode_remedy: str | None = None) -> Iterator[None]:
    """Re-word the remedies of the administration's errors as this command's invocations."""
    try:
        yield
    except UnknownSite as exc:
        raise AdminError(
            f"there is no site {exc.site_id}; create it first with"
            f" `scripts/admin site add {exc.site_id} --name NAME`"
        ) from None
    except UnknownMode as exc:
        remedy = mode_remedy or (
            f"publish it first with `scripts/admin mode publish {exc.mode_id} --mode-file"
            " FILE.mode`"
        )
        raise AdminError(f"mode {exc.mode_id} is not in the mode catalog; {remedy}") from None
    except OutOfRange as exc:
        flag = _FLAGS.get(exc.field, exc.field)
        raise AdminError(f"{flag} must be at least {exc.least}, not {exc.value}") from None
    except UserExists as exc:
        raise AdminError(
            f"user {exc.user_name} exists already (at site {exc.site_id}); choose another"
            f" name, or give it a new key with `scripts/admin key rotate {exc.user_name}`"
        ) from None
    except TooManyKeys as exc:
        raise AdminError(
            f"user {exc.user_name} has two access keys ({', '.join(exc.access_key_ids)}), the"
            " most IAM allows; revoke the one not in use with `scripts/admin key revoke"
            " ACCESS_KEY_ID`, then rotate"
        ) from None


@dataclass
class Admin:
    """Changes one local cloud: its tables, its IAM users and its credential store."""

    settings: Settings
    iam: Any
    credentials: CredentialStore
    site_user_group: str
    api_url: str | None = None
    s3_endpoint: str | None = None
    """The cloud's S3 when it is not AWS's (the local cloud's emulator), for agent configs."""
    say: Callable[[str], None] = field(default=print)
    secretsmanager: Any = None

    @classmethod
    def connect(cls, ready_file: Path, say: Callable[[str], None] = print) -> Admin:
        """Point the models and an IAM client at the cloud described by ``ready_file``.

        The AWS variables of the ready file go into this process's environment, as
        the local cloud does for itself, because the table models read the
        endpoint from there.
        """
        env = read_ready_file(ready_file)
        try:
            settings = Settings.from_env(env)
        except ConfigurationError as exc:
            raise AdminError(f"{ready_file} is not a complete ready file: {exc}") from None
        if not env.get(CREDENTIALS_VARIABLE):
            raise AdminError(
                f"{ready_file} names no credential store ({CREDENTIALS_VARIABLE}); restart the"
                " local cloud from this checkout so that it writes a current ready file"
            )
        if not env.get("AWS_ENDPOINT_URL"):
            raise AdminError(f"{ready_file} names no emulator endpoint (AWS_ENDPOINT_URL)")
        os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
        bind_models(settings)
        session = boto3.session.Session(region_name=settings.region)
        return cls(
            secretsmanager=session.client("secretsmanager"),
            settings=settings,
            iam=session.client("iam", config=_IAM_CONFIG),
            credentials=CredentialStore(Path(env[CREDENTIALS_VARIABLE])),
            site_user_group=resources_for(settings).site_user_group(),
            api_url=env.get(API_URL_VARIABLE) or None,
            s3_endpoint=env["AWS_ENDPOINT_URL"],
            say=say,
        )

    @property
    def users(self) -> SiteUsers:
        """Site users and keys, each key also recorded in the local credential store."""
        return SiteUsers(
            self.iam,
            self.site_user_group,
            CredentialStoreHook(self.credentials),
            path=resources_for(self.settings).site_user_path(),
        )

    # -- sites ---------------------------------------------------------------------------

    def add_site(self, site_id: str, name: str) -> Site:
        if not name.strip():
            sites.check_id("site id", site_id)
            raise AdminError("a site needs a name people recognise: pass --name")
        site = sites.create_site(site_id, name)
        self.say(f"Created site {site_id} ({site.name}); billing: none.")
        return site

    # -- billing -------------------------------------------------------------------------

    def set_billing(
        self, site_id: str, mode: str, contact: BillingContact | None = None
    ) -> BillingChange:
        """Bill a site through ``mode``; a ``stripe`` site gets its contact and a card link."""
        secret_id = self.settings.stripe_secret_id
        held = read_secret(self.secretsmanager, secret_id) if secret_id else {}
        settings = with_stripe_secret(self.settings, self.secretsmanager)
        portal_url = held.get("portal_url", "").rstrip("/")

        def gateway() -> StripeGateway:
            try:
                return StripeGateway.from_settings(settings)
            except BillingNotConfigured as exc:
                raise AdminError(str(exc)) from None

        with _in_shell_terms():
            change = set_billing_mode(
                site_id, mode, gateway=gateway, contact=contact, return_url=f"{portal_url}/billing/"
            )
        self.say(f"Site {site_id} is billed through {mode}.")
        if change.setup_url:
            self.say(
                "Its tasks are refused until a card is saved: the site administrator adds one"
                f" on the portal's Billing page, or at {change.setup_url}"
            )
        return change

    def stripe_setup(
        self, *, portal_url: str, restricted_key: str, setup_key: str, currency: str | None
    ) -> dict[str, str]:
        """Make Stripe's meter, product, price and webhook endpoint; store them in the secret."""
        if not self.settings.stripe_secret_id:
            raise AdminError("this deployment names no Stripe secret (YC_STRIPE_SECRET)")
        bases = {"api": self.settings.stripe_api_base} if self.settings.stripe_api_base else {}
        setup = StripeSetup(
            stripe.StripeClient(setup_key, base_addresses=bases),  # type: ignore[arg-type]
            self.secretsmanager,
            self.settings.stripe_secret_id,
            say=self.say,
        )
        try:
            values = setup.run(
                portal_url=portal_url,
                currency=currency or self.settings.rates.currency,
                restricted_key=restricted_key,
                meter_event=self.settings.stripe_meter_event,
            )
        except (ConfigurationError, stripe.StripeError) as exc:
            raise AdminError(f"Stripe set-up failed: {exc}") from None
        self.say(
            f"Stripe is set up: price {values['price_id']} ({values['currency'].upper()}),"
            f" meter {values['meter_id']}, webhook endpoint {values['webhook_endpoint_id']}."
            " Functions and the portal read them at their next start."
        )
        return values

    def resend_rejected(self, site_id: str | None) -> list[str]:
        """Queue the usage reports Stripe refused again; the billing outbox sends them."""
        requeued = Outbox(gateway=None).requeue_rejected(site_id)
        whose = f" of site {site_id}" if site_id else ""
        if requeued:
            self.say(
                f"{len(requeued)} rejected usage report(s){whose} queued again; the"
                " billing_outbox function sends them on its next run (within 5 minutes)."
            )
        else:
            self.say(f"No rejected usage reports{whose}.")
        return requeued

    # -- modes ---------------------------------------------------------------------------

    def publish_mode(self, mode_id: str, client_config: Mapping[str, Any]) -> ModeCatalog:
        """Put a mode's ``[ClientConfig]`` into the catalog (replacing an earlier one)."""
        entry, replaced = mode_settings.publish_mode(mode_id, client_config)
        verb = "Republished" if replaced else "Published"
        self.say(f"{verb} mode {mode_id} ({entry.client_config['Name']}) in the mode catalog.")
        return entry

    def publish_modes(self, folder: Path) -> list[str]:
        """Publish every ``.mode`` file of ``folder`` (all or none: each must be runnable)."""
        try:
            mode_ids = publish_modes(folder)
        except (ReconError, InvalidClientConfig) as exc:
            raise AdminError(f"nothing published from {folder}: {exc}") from None
        self.say(f"Published {len(mode_ids)} modes from {folder}: {', '.join(mode_ids)}.")
        return mode_ids

    def enable_mode(
        self,
        site_id: str,
        mode_id: str,
        *,
        vcpus: int | None = None,
        memory_mib: int | None = None,
        spot: bool | None = None,
        timeout_seconds: int | None = None,
    ) -> ModeSettings:
        """Let a site use a mode; options left None keep the current (or default) values."""
        with _in_shell_terms():
            settings = mode_settings.enable_mode(
                site_id,
                mode_id,
                vcpus=vcpus,
                memory_mib=memory_mib,
                spot=spot,
                timeout_seconds=timeout_seconds,
            )
        self.say(
            f"Enabled mode {mode_id} at site {site_id}: {int(settings.vcpus)} vCPUs,"
            f" {int(settings.memory_mib)} MiB, {'spot' if settings.spot else 'on-demand'}"
            f" instances, time limit {int(settings.timeout_seconds)} s."
        )
        return settings

    def disable_mode(self, site_id: str, mode_id: str) -> ModeSettings:
        with _in_shell_terms():
            settings = mode_settings.disable_mode(site_id, mode_id)
        self.say(
            f"Disabled mode {mode_id} at site {site_id} (its settings are kept for when it"
            " is enabled again)."
        )
        return settings

    # -- destinations --------------------------------------------------------------------

    def add_destination(self, site_id: str, destination: Destination) -> None:
        """Store ``destination`` on the site's record, replacing one of the same name."""
        remedy = "publish it first, or leave out --mode to send every mode's images there"
        with _in_shell_terms(mode_remedy=remedy):
            replaced = destinations.put_destination(site_id, destination)
        if destination.method == "PACS":
            where = (
                f"PACS {destination.aec}@{destination.ip}:{destination.port}"
                f" (our AE title {destination.aet})"
            )
        else:
            where = f"folder {destination.location}"
        modes = ", ".join(destination.modes) if destination.modes else "every mode"
        self.say(
            f"{'Replaced' if replaced else 'Added'} destination {destination.name} at site"
            f" {site_id}: {where}, for {modes}."
        )

    def remove_destination(self, site_id: str, name: str) -> None:
        with _in_shell_terms():
            destinations.remove_destination(site_id, name)
        self.say(f"Removed destination {name} from site {site_id}.")

    # -- users and keys ------------------------------------------------------------------

    def add_user(
        self,
        user_name: str,
        site_id: str,
        *,
        agent_config: Path | None = None,
        agent_base: Path | None = None,
    ) -> NewKey:
        """Create the IAM user, its group membership and key, and the user's record.

        With ``agent_config``, also write the agent's TOML config there and the
        secret into a file beside it that only its owner can read.
        """
        check_user_name(user_name)
        with _in_shell_terms():
            sites.get_site(site_id)
        secret_file = None
        if agent_config is not None:
            agent_config = agent_config.expanduser().absolute()
            secret_file = secret_file_for(agent_config)
            for path in (agent_config, secret_file):
                if path.exists():
                    raise AdminError(
                        f"{path} exists already; choose another --agent-config or move it away"
                    )
            try:
                agent_config.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise AdminError(
                    f"cannot create the folder {agent_config.parent} for the agent's config:"
                    f" {exc.strerror}; choose another --agent-config"
                ) from None
            agent_base = (agent_base or agent_config.parent).expanduser().absolute()

        def write_config(key: NewKey) -> None:
            if agent_config is None or secret_file is None or agent_base is None:
                return
            try:
                write_agent_config(
                    agent_config,
                    secret_file,
                    api_url=self.api_url,
                    region=self.settings.region,
                    access_key_id=key.access_key_id,
                    secret_access_key=key.secret_access_key,
                    base=agent_base,
                    s3_endpoint=self.s3_endpoint,
                    destinations=destinations.list_destinations(site_id),
                    written_by=WRITTEN_BY,
                )
            except OSError as exc:
                raise AdminError(
                    f"cannot write the agent's config {agent_config}: {exc}; nothing was"
                    " created, so fix that and run the same command again"
                ) from None

        with _in_shell_terms():
            key = self.users.create_user(user_name, site_id, then=write_config)
        self.say(
            f"Created user {user_name} at site {site_id} (IAM user in group"
            f" {self.site_user_group})."
        )
        self._show_key(key)
        if agent_config is not None:
            self.say(f"Wrote the agent's config to {agent_config}")
            self.say(f"  and its secret to {secret_file} (readable only by you).")
            self.say(f"  Its folders are under {agent_base}.")
            if not self.api_url:
                self.say(
                    "  The local cloud publishes no API URL yet, so [cloud] has no api_url:"
                    ' add `api_url = "..."` there once the API gateway runs.'
                )
        return key

    def rotate_key(self, user_name: str) -> NewKey:
        """A new key for ``user_name``; every older key is deleted."""
        with _in_shell_terms():
            key, old = self.users.rotate_key(user_name)
        self.say(f"New access key for {user_name}.")
        self._show_key(key)
        if old:
            self.say(f"Deleted the old key {', '.join(old)}; requests signed with it now fail.")
        self.say(
            "Put the new access_key_id in the agent's config and the new secret in its secret file."
        )
        return key

    def revoke_key(self, access_key_id: str) -> None:
        """Delete a key in IAM and in the credential store."""
        try:
            owner = self.users.revoke_key(access_key_id)
        except UnknownKey:
            if self.credentials.get(access_key_id) is None:
                raise AdminError(
                    f"there is no access key {access_key_id}; list a user's keys with"
                    " `aws iam list-access-keys --user-name USER`"
                ) from None
            self.credentials.remove(access_key_id)
            self.say(
                f"Access key {access_key_id} was no longer in IAM; removed it from the local"
                " credential store."
            )
            return
        self.say(f"Revoked access key {access_key_id} of {owner}; requests signed with it fail.")

    def deactivate_key(self, access_key_id: str) -> None:
        """Mark a key inactive in IAM: refused from now on, but not deleted."""
        try:
            owner = self.users.set_key_active(access_key_id, False)
        except UnknownKey:
            raise AdminError(f"there is no access key {access_key_id} in IAM") from None
        self.say(
            f"Deactivated access key {access_key_id} of {owner}; requests signed with it fail"
            " until it is activated again (or revoke it for good with `scripts/admin key"
            " revoke`)."
        )

    def _show_key(self, key: NewKey) -> None:
        self.say(f"  access key id:     {key.access_key_id}")
        self.say(f"  secret access key: {key.secret_access_key}")
        self.say("  (the secret is shown this once; keep it where only its user can read it)")


# -- modes from files ------------------------------------------------------------------


def client_config_from_mode_file(path: Path) -> dict[str, Any]:
    """The ``[ClientConfig]`` values of a Yarra ``.mode`` file, as text, under Yarra's key names."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise AdminError(f"cannot read the mode file {path}: {exc.strerror}") from None
    try:
        parser = parse_yarra_ini(data, source=str(path))
    except configparser.Error as exc:
        raise AdminError(f"{path} is not a readable mode file: {exc}") from None
    if not parser.has_section("ClientConfig"):
        raise AdminError(f"{path} has no [ClientConfig] section; is it a Yarra .mode file?")
    section = parser["ClientConfig"]  # keys are matched case-insensitively
    canonical = list(CLIENT_CONFIG_KEYS)
    return {key: section[key].strip() for key in canonical if key in section}


# -- helpers ---------------------------------------------------------------------------


def _unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a failed connection to the emulator."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, EndpointConnectionError):
            return True
        seen.add(id(current))
        current = getattr(current, "cause", None) or current.__cause__ or current.__context__
    return False


def parse_pacs(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) → host and port; the port defaults to 104."""
    host, port = value, "104"
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        if rest.startswith(":"):
            port = rest[1:]
        elif rest:
            raise AdminError(f"--pacs {value!r}: write it as HOST:PORT, e.g. [::1]:104")
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    if not host:
        raise AdminError(f"--pacs {value!r} names no host; write it as HOST:PORT")
    try:
        number = int(port)
    except ValueError:
        raise AdminError(f"--pacs {value!r}: the port must be a number") from None
    if not 0 < number < 65536:
        raise AdminError(f"--pacs {value!r}: the port must lie between 1 and 65535")
    return host, number


# -- the command line ------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scripts/admin",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--cloud",
        type=Path,
        default=DEFAULT_READY_FILE,
        metavar="FILE",
        help="the ready file of the running local cloud (default: %(default)s)",
    )
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")

    site = groups.add_parser("site", help="imaging centres").add_subparsers(
        dest="action", required=True
    )
    p = site.add_parser("add", help="create a site (billing: none)")
    p.add_argument("site_id")
    p.add_argument("--name", required=True)

    p = site.add_parser("billing", help="bill a site through Stripe, or not at all")
    p.add_argument("site_id")
    p.add_argument("mode", choices=["none", "stripe"])
    p.add_argument("--email", help="where Stripe sends invoices and payment reminders")
    p.add_argument("--line1", help="billing address: street and number")
    p.add_argument("--line2", default="", help="billing address: more")
    p.add_argument("--city")
    p.add_argument("--postal-code")
    p.add_argument("--country", help="two letters (ISO 3166-1), e.g. DE")

    stripe_group = groups.add_parser("stripe", help="the Stripe account").add_subparsers(
        dest="action", required=True
    )
    p = stripe_group.add_parser(
        "setup", help="make or update the meter, price and webhook endpoint (idempotent)"
    )
    p.add_argument("--portal-url", required=True, help="the portal's public address")
    p.add_argument(
        "--restricted-key-file",
        type=Path,
        required=True,
        help="a file holding the restricted key the functions and the portal use",
    )
    p.add_argument("--currency", help="default: the rates' currency")
    p = stripe_group.add_parser(
        "resend-rejected",
        help="queue the usage reports Stripe refused again, once their cause is fixed",
    )
    p.add_argument("--site", dest="site_id", help="only this site's reports")

    mode = groups.add_parser("mode", help="the mode catalog and each site's modes").add_subparsers(
        dest="action", required=True
    )
    p = mode.add_parser("publish", help="put a mode's [ClientConfig] into the catalog")
    p.add_argument("mode_id", nargs="?", help="default: the mode file's name without .mode")
    p.add_argument("--mode-file", type=Path, help="read [ClientConfig] from a Yarra .mode file")
    p.add_argument("--folder", type=Path, help="publish every .mode file of a folder")
    p.add_argument("--name", help="the name the scanner's menu shows")
    p.add_argument("--tag")
    p.add_argument("--minimum-size-mb")
    p.add_argument("--param-label")
    p.add_argument("--param-description")
    p.add_argument("--param-default")
    p.add_argument("--param-min")
    p.add_argument("--param-max")
    p.add_argument("--param-float", action="store_true", default=None)
    p = mode.add_parser("enable", help="let a site use a mode, with its instance settings")
    p.add_argument("site_id")
    p.add_argument("mode_id")
    p.add_argument("--vcpus", type=int)
    p.add_argument("--memory-mib", type=int)
    purchase = p.add_mutually_exclusive_group()
    purchase.add_argument("--spot", dest="spot", action="store_true", default=None)
    purchase.add_argument("--on-demand", dest="spot", action="store_false")
    p.add_argument("--timeout-seconds", type=int)
    p = mode.add_parser("disable", help="stop a site from using a mode")
    p.add_argument("site_id")
    p.add_argument("mode_id")

    destination = groups.add_parser("destination", help="where a site's images go").add_subparsers(
        dest="action", required=True
    )
    p = destination.add_parser("add", help="a PACS or a folder (replaces one of the same name)")
    p.add_argument("site_id")
    p.add_argument("name")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--pacs", metavar="HOST:PORT", help="a DICOM node (C-STORE)")
    target.add_argument("--folder", metavar="PATH", help="a folder or mounted share")
    p.add_argument("--aet", help="the AE title the agent calls from (calling), as storescu's -aet")
    p.add_argument("--aec", help="the PACS's AE title (called), as storescu's -aec")
    p.add_argument(
        "--mode",
        dest="modes",
        action="append",
        default=[],
        metavar="MODE",
        help="only this mode's images (repeatable; default: every mode)",
    )
    p = destination.add_parser("remove", help="remove a destination")
    p.add_argument("site_id")
    p.add_argument("name")

    user = groups.add_parser("user", help="site users and their keys").add_subparsers(
        dest="action", required=True
    )
    p = user.add_parser("add", help="create a user with an access key")
    p.add_argument("user_name", metavar="USER")
    p.add_argument("--site", required=True, dest="site_id", metavar="SITE_ID")
    p.add_argument("--agent-config", type=Path, metavar="PATH", help="write the agent's config")
    p.add_argument("--agent-base", type=Path, metavar="DIR", help="the agent's folders' base")

    key = groups.add_parser("key", help="access keys").add_subparsers(dest="action", required=True)
    p = key.add_parser("rotate", help="a new key for a user; the old one is deleted")
    p.add_argument("user_name", metavar="USER")
    p = key.add_parser("revoke", help="delete a key")
    p.add_argument("access_key_id", metavar="ACCESS_KEY_ID")
    p = key.add_parser("deactivate", help="refuse a key without deleting it")
    p.add_argument("access_key_id", metavar="ACCESS_KEY_ID")
    return parser


def _publish(admin: Admin, args: argparse.Namespace) -> None:
    if args.folder is not None:
        admin.publish_modes(args.folder)
        return
    values: dict[str, Any] = {}
    mode_id = args.mode_id
    if args.mode_file is not None:
        values.update(client_config_from_mode_file(args.mode_file))
        mode_id = mode_id or args.mode_file.stem
    if not mode_id:
        raise AdminError("name the mode: `mode publish MODE_ID --name NAME` or --mode-file FILE")
    given = {
        "Name": args.name,
        "Tag": args.tag,
        "MinimumSizeMB": args.minimum_size_mb,
        "ParamLabel": args.param_label,
        "ParamDescription": args.param_description,
        "ParamDefault": args.param_default,
        "ParamMin": args.param_min,
        "ParamMax": args.param_max,
        "ParamIsFloat": args.param_float,
    }
    values.update({k: v for k, v in given.items() if v is not None})
    admin.publish_mode(mode_id, values)


def _destination(args: argparse.Namespace) -> Destination:
    if args.pacs is not None:
        missing = [flag for flag in ("aet", "aec") if not getattr(args, flag)]
        if missing:
            raise AdminError(
                "a PACS destination needs both AE titles: --aet (the agent's) and --aec"
                f" (the PACS's); missing: {', '.join('--' + m for m in missing)}"
            )
        host, port = parse_pacs(args.pacs)
        fields: dict[str, Any] = {"method": "PACS", "ip": host, "port": port}
        fields.update(aet=args.aet, aec=args.aec)
    else:
        if args.aet or args.aec:
            raise AdminError("--aet and --aec belong to --pacs; a folder has no AE titles")
        fields = {"method": "smb", "location": args.folder}
    try:
        return Destination(name=args.name, modes=tuple(args.modes), **fields)
    except ValueError as exc:
        raise AdminError(str(exc)) from None


def _billing(admin: Admin, args: argparse.Namespace) -> None:
    given = [args.email, args.line1, args.city, args.postal_code, args.country]
    contact = None
    if any(given):
        if not all(given):
            raise AdminError(
                "a billing contact needs all of --email, --line1, --city, --postal-code and"
                " --country"
            )
        contact = BillingContact(
            email=args.email,
            line1=args.line1,
            line2=args.line2,
            city=args.city,
            postal_code=args.postal_code,
            country=args.country.upper(),
        )
    admin.set_billing(args.site_id, args.mode, contact)


def _stripe_setup(admin: Admin, args: argparse.Namespace) -> None:
    setup_key = os.environ.get("STRIPE_SETUP_KEY", "").strip()
    if not setup_key:
        raise AdminError(
            "put a Stripe secret key allowed to write Billing meters, Products, Prices and"
            " Webhook endpoints in STRIPE_SETUP_KEY (it is used for the set-up only, never"
            " stored)"
        )
    try:
        restricted_key = args.restricted_key_file.read_text().strip()
    except OSError as exc:
        raise AdminError(f"cannot read {args.restricted_key_file}: {exc.strerror}") from None
    if not restricted_key.startswith("rk_"):
        raise AdminError(
            f"{args.restricted_key_file} holds no restricted key (rk_…): create one in"
            " Stripe's Dashboard with the permissions listed in docs/runbook.md"
        )
    admin.stripe_setup(
        portal_url=args.portal_url,
        restricted_key=restricted_key,
        setup_key=setup_key,
        currency=args.currency,
    )


COMMANDS: dict[tuple[str, str], Callable[[Admin, argparse.Namespace], Any]] = {
    ("site", "add"): lambda admin, a: admin.add_site(a.site_id, a.name),
    ("site", "billing"): _billing,
    ("stripe", "setup"): _stripe_setup,
    ("stripe", "resend-rejected"): lambda admin, a: admin.resend_rejected(a.site_id),
    ("mode", "publish"): _publish,
    ("mode", "enable"): lambda admin, a: admin.enable_mode(
        a.site_id,
        a.mode_id,
        vcpus=a.vcpus,
        memory_mib=a.memory_mib,
        spot=a.spot,
        timeout_seconds=a.timeout_seconds,
    ),
    ("mode", "disable"): lambda admin, a: admin.disable_mode(a.site_id, a.mode_id),
    ("destination", "add"): lambda admin, a: admin.add_destination(a.site_id, _destination(a)),
    ("destination", "remove"): lambda admin, a: admin.remove_destination(a.site_id, a.name),
    ("user", "add"): lambda admin, a: admin.add_user(
        a.user_name, a.site_id, agent_config=a.agent_config, agent_base=a.agent_base
    ),
    ("key", "rotate"): lambda admin, a: admin.rotate_key(a.user_name),
    ("key", "revoke"): lambda admin, a: admin.revoke_key(a.access_key_id),
    ("key", "deactivate"): lambda admin, a: admin.deactivate_key(a.access_key_id),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already explained
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    try:
        admin = Admin.connect(args.cloud)
        COMMANDS[(args.group, args.action)](admin, args)
    except AdminError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if _unreachable(exc):
            print(
                f"error: cannot reach the local cloud described by {args.cloud}; is"
                " `python -m scripts.local_cloud` still running? Start it again if not.",
                file=sys.stderr,
            )
            return 2
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
