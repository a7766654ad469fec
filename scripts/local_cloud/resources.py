"""Reads ``terraform/resources.json`` and resolves its names for one deployment."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.core.pricing import rates_for_region
from functions.core.settings import Settings

RESOURCES_FILE = Path(__file__).resolve().parents[2] / "terraform" / "resources.json"
_PLACEHOLDER = re.compile(r"\{(prefix|region|account|bucket:[a-z_]+|job_queue_arn:[a-z_]+)\}")


@dataclass(frozen=True)
class Deployment:
    """Where the resources live: the values that fill the placeholders."""

    prefix: str
    region: str
    account: str


class Resources:
    """The resource description with every placeholder resolved for one deployment."""

    def __init__(self, deployment: Deployment, raw: dict[str, Any] | None = None) -> None:
        self.deployment = deployment
        self.raw = raw if raw is not None else json.loads(RESOURCES_FILE.read_text())

    def resolve(self, value: Any) -> Any:
        """``value`` (a string, list or dict) with its placeholders filled in."""
        if isinstance(value, str):
            return _PLACEHOLDER.sub(lambda m: self._lookup(m.group(1)), value)
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        return value

    def _lookup(self, name: str) -> str:
        d = self.deployment
        if name in ("prefix", "region", "account"):
            return getattr(d, name)
        kind, _, key = name.partition(":")
        if kind == "bucket":
            return self.bucket(key)
        return self.job_queue_arn(key)

    def bucket(self, key: str) -> str:
        return self.resolve(self.raw["buckets"][key]["name"])

    def table(self, key: str) -> str:
        return self.resolve(self.raw["tables"][key]["name"])

    def secret(self, key: str) -> str:
        return self.resolve(self.raw["secrets"][key]["name"])

    def queue(self, key: str) -> str:
        return self.resolve(self.raw["queues"][key]["name"])

    def job_queue(self, key: str) -> str:
        return self.resolve(self.raw["batch"]["job_queues"][key]["name"])

    def job_queue_arn(self, key: str) -> str:
        d = self.deployment
        return f"arn:aws:batch:{d.region}:{d.account}:job-queue/{self.job_queue(key)}"

    def job_definition(self) -> dict[str, Any]:
        return self.resolve(self.raw["batch"]["job_definition"])

    def site_user_group(self) -> str:
        """The IAM group every site user belongs to."""
        return self.resolve(self.raw["site_users"]["group"])

    def site_user_path(self) -> str:
        """The IAM path site users are created under."""
        return self.resolve(self.raw["site_users"]["path"])

    def site_user_administration_policy(self) -> dict[str, Any]:
        """The policy that lets the portal manage site users, and only them."""
        return self.resolve(self.raw["site_users"]["administration_policy"])

    def site_user_policy_name(self) -> str:
        """The name of the group's inline policy."""
        return self.resolve(self.raw["site_users"]["policy_name"])

    def site_user_policy(self) -> dict[str, Any]:
        """The group's policy document; ``${aws:username}`` is left for IAM to fill in."""
        return self.resolve(self.raw["site_users"]["policy"])

    def settings(self, **overrides: Any) -> Settings:
        """The backend's settings for this deployment, as Terraform would set them."""
        values: dict[str, Any] = {
            "region": self.deployment.region,
            "in_bucket": self.bucket("in"),
            "out_bucket": self.bucket("out"),
            "task_table": self.table("task"),
            "site_table": self.table("site"),
            "user_table": self.table("user"),
            "mode_catalog_table": self.table("mode_catalog"),
            "mode_settings_table": self.table("mode_settings"),
            "usage_table": self.table("usage"),
            "idempotency_table": self.table("idempotency"),
            "usage_rollup_table": self.table("usage_rollup"),
            "billing_outbox_table": self.table("billing_outbox"),
            "stripe_events_table": self.table("stripe_events"),
            "stripe_secret_id": self.secret("stripe"),
            "job_queue_spot": self.job_queue("spot"),
            "job_queue_on_demand": self.job_queue("on_demand"),
            "job_definition": self.job_definition()["name"],
            "rates": rates_for_region(self.deployment.region),
            "environment": "local",
        }
        values.update(overrides)
        return Settings(**values)
