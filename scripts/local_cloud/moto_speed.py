"""Where moto is slower than this project's loads allow: patches every emulator applies.

Each function below makes one piece of moto faster without changing what it answers; its
docstring says what moto does and (under "Upstream") the change to moto that would make
the patch unneeded. :func:`apply` refuses a moto other than the one they were written for
(:mod:`scripts.local_cloud.moto_version`).
"""

from __future__ import annotations

import json
from typing import Any

from scripts.local_cloud.moto_version import require_written_for


def apply() -> None:
    """Patch moto in this process; :mod:`scripts.local_cloud.s3_ranges` is applied beside."""
    require_written_for()
    for patch in PATCHES:
        patch()


def moto_modules_listed_once() -> None:
    """List moto's service packages once, not on every request.

    moto's dispatcher calls ``backends.list_of_moto_modules`` (a listing of moto's
    package folder) for every request, under its one lock; the list never changes
    while the server runs.

    Upstream: ``moto.backends.list_of_moto_modules`` (``moto/backends.py``) is cached
    (``functools.cache``) and returns a tuple.
    """
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules


def iam_managed_policies_in_the_aws_partition_only() -> None:
    """Give only the ``aws`` partition AWS's managed policies, from JSON parsed once.

    Terraform attaches AWS managed policies, so the emulator loads them; but moto
    builds all 1,582 of them for every partition (six: ``aws-cn``, ``aws-us-gov``, ...)
    from freshly parsed JSON, when an account's IAM is first touched and at every
    reset: half a second each time, for partitions this project never uses.
    The parse is inside the method, so the method is replaced (same policies for the
    ``aws`` partition); a wrapper that only skipped the other partitions would still parse
    the JSON (0.12 s) at every reset, beside the 0.13 s of building the policies.

    Upstream: moto's ``IAMBackend._init_aws_policies`` (``moto/iam/models.py``) parses
    ``aws_managed_policies_data`` once per process, and loads each partition's own
    policies (AWS's partitions each have their own set) rather than the ``aws`` set in all.
    """
    from moto.iam import models as iam
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.settings import load_iam_aws_managed_policies

    parsed = json.loads(aws_managed_policies_data)

    def init_aws_policies(self: iam.IAMBackend) -> list[iam.ManagedPolicy]:
        if self.partition != "aws" or not load_iam_aws_managed_policies():
            return []
        return [
            iam.AWSManagedPolicy.from_data(name, self.account_id, self.region_name, data)
            for name, data in parsed.items()
        ]

    iam.IAMBackend._init_aws_policies = init_aws_policies


def dynamodb_sorted_by_plain_values() -> None:
    """Compare DynamoDB keys by their Python values, each converted once.

    Every query and scan sorts the whole table by key, and an index query then
    sorts the partition it reads by the index's keys, comparing ``DynamoType``
    wrappers that convert both values at each comparison, through five type
    tests for a string: 4 of the 5 s a page of a site's tasks took with 100,000
    tasks in the table. Key attributes are strings, numbers or binary, whose
    converted values (``str``, ``Decimal``, ``bytes``) order as the wrappers do,
    so sorting on values converted once gives the same order; the conversion
    itself tests the common types first.

    The sort key lives inside the two methods, so they are replaced (each returns the
    same items in the same order); the faster ``cast_value`` alone, the narrower patch,
    still takes 1.6 s where sorting on values converted once takes 0.24 s (``all_items``
    of 100,000 tasks; moto as released: 5.8 s).

    Upstream: moto's ``Table.all_items`` and ``Table.sorted_items``
    (``moto/dynamodb/models/table.py``) sort on the keys' ``cast_value`` (computed once
    per item by the sort's key function) instead of on ``DynamoType`` objects, and
    ``DynamoType.cast_value`` tests strings and numbers first.
    """
    from decimal import Decimal

    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    convert = DynamoType.cast_value.fget

    def cast_value(self: DynamoType) -> Any:
        kind = self.type
        if kind in ("S", "B", "BOOL"):
            return self.value
        if kind == "N":
            return Decimal(self.value)
        return convert(self)

    def all_items(self: Table) -> list:
        items = [
            item
            for entry in self.items.values()
            for item in (entry.values() if self.range_key_attr else (entry,))
        ]
        items.sort(
            key=lambda item: (
                (item.hash_key.cast_value, item.range_key.cast_value)
                if item.range_key
                else item.hash_key.cast_value
            )
        )
        return items

    def sorted_items(
        self: Table, hash_key_attrs: list[str], range_key_attrs: list[str | None], items: list
    ) -> list:
        attrs = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
        items.sort(key=lambda item: tuple(item.attrs[a].cast_value for a in attrs))
        return items

    DynamoType.cast_value = property(cast_value)
    Table.all_items = all_items
    Table.sorted_items = sorted_items


PATCHES = (
    moto_modules_listed_once,
    iam_managed_policies_in_the_aws_partition_only,
    dynamodb_sorted_by_plain_values,
)
