"""Where moto forgets what AWS keeps: one small patch per value, for Terraform's applies.

Terraform reads every resource back after creating it and again before each plan. Where
moto drops or reshapes a value that AWS stores and returns as it was sent, a second plan
after an apply wants to set that value again, although real AWS would show no change.
Each function below makes moto keep and return one such value the way AWS does, by
wrapping (or, for a property, overriding) the smallest piece of moto that loses it. Its
docstring says what moto does, what AWS does, and (under "Upstream") the change to moto
that would make the patch unneeded.

Only the Terraform apply tests need these, so only an emulator started with
``fidelity=True`` (``--terraform-fidelity``) applies them; :func:`apply` refuses a moto
other than the one they were written for (:mod:`scripts.local_cloud.moto_version`).
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Iterable
from typing import Any

from scripts.local_cloud.moto_version import require_written_for


def apply() -> None:
    """Patch moto in this process so that it keeps and returns what AWS does."""
    require_written_for()
    for patch in PATCHES:
        patch()


def ec2_launch_template_tags() -> None:
    """A launch template's own tags stay off the template's data.

    ``CreateLaunchTemplate``'s ``TagSpecifications`` (resource type ``launch-template``,
    the only type it takes) tag the template itself; AWS keeps them apart from
    ``LaunchTemplateData``, whose ``TagSpecifications`` are the tags of the instances and
    volumes it launches. moto also appends them to the data, so the template's first
    version reads back with a tag specification nobody set (Terraform's default tags).

    Upstream: in moto's ``LaunchTemplates.create_launch_template``
    (``moto/ec2/responses/launch_templates.py``), drop the block that extends
    ``parsed_template_data["TagSpecifications"]`` with the request's tag specifications.
    """
    from moto.ec2.models.launch_templates import LaunchTemplateBackend

    original = LaunchTemplateBackend.create_launch_template

    @functools.wraps(original)
    def create_launch_template(
        self: LaunchTemplateBackend,
        name: str,
        description: str,
        template_data: dict[str, Any],
        tag_spec: dict[str, Any],
    ) -> Any:
        given = template_data.get("TagSpecifications")
        if given is not None:
            own = [s for s in given if s.get("ResourceType") != "launch-template"]
            template_data = {**template_data, "TagSpecifications": own}
            if not own:
                del template_data["TagSpecifications"]
        return original(self, name, description, template_data, tag_spec)

    LaunchTemplateBackend.create_launch_template = create_launch_template


def ec2_security_group_rule_descriptions() -> None:
    """A rule that names another security group keeps its description.

    AWS returns a rule's ``Description`` whatever its source: a CIDR range, a prefix list
    or another group. moto reads it only from the CIDR range, so a group-to-group rule
    (``referenced_security_group_id``) reads back without the description it was given.

    Upstream: moto's ``SecurityGroupRule.description``
    (``moto/ec2/models/security_groups.py``) falls back to the source group's
    ``Description`` when the rule has no CIDR range.
    """
    from moto.ec2.models.security_groups import SecurityGroupRule

    original = SecurityGroupRule.description.fget

    def description(self: SecurityGroupRule) -> str | None:
        return original(self) or self.source_group.get("Description")

    SecurityGroupRule.description = property(description)


def rds_performance_insights() -> None:
    """A DB instance keeps whether Performance Insights is on, its key and its retention.

    AWS returns ``PerformanceInsightsEnabled``, ``PerformanceInsightsKMSKeyId`` and
    ``PerformanceInsightsRetentionPeriod`` (7 days unless set) as created or modified;
    moto ignores ``EnablePerformanceInsights`` and the rest and reads them back as off.

    Upstream: moto's ``DBInstance.__init__`` (``moto/rds/models.py``) keeps the three
    values it is given, and its Performance Insights properties return them (the key and
    retention only while enabled, the retention 7 when unset).
    """
    from moto.rds.models import DBInstance

    original_init = DBInstance.__init__

    @functools.wraps(original_init)
    def __init__(self: DBInstance, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.enable_performance_insights = bool(kwargs.get("enable_performance_insights"))
        self.performance_insights_kms_key_id = kwargs.get("performance_insights_kms_key_id")
        self.performance_insights_retention_period = kwargs.get(
            "performance_insights_retention_period"
        )

    def enabled(self: DBInstance) -> bool:
        return bool(getattr(self, "enable_performance_insights", False))

    def key(self: DBInstance) -> str | None:
        return self.__dict__.get("performance_insights_kms_key_id") if enabled(self) else None

    def set_key(self: DBInstance, value: str | None) -> None:
        self.__dict__["performance_insights_kms_key_id"] = value

    def retention(self: DBInstance) -> int | None:
        if not enabled(self):
            return None
        return self.__dict__.get("performance_insights_retention_period") or 7

    def set_retention(self: DBInstance, value: int | None) -> None:
        self.__dict__["performance_insights_retention_period"] = value

    DBInstance.__init__ = __init__
    DBInstance.performance_insights_enabled = property(enabled)
    DBInstance.performance_insights_kms_key_id = property(key, set_key)
    DBInstance.performance_insights_retention_period = property(retention, set_retention)


def rds_parameter_sources() -> None:
    """A DB parameter group's own parameters read back as the user's.

    AWS answers ``DescribeDBParameters`` with each parameter's ``Source``: ``user`` for
    those set through ``ModifyDBParameterGroup``, and honours the ``Source`` filter. moto
    returns no source, so a client that keeps only the user's parameters (Terraform does)
    finds none of those it set.

    Upstream: moto's ``DBParameterGroup.update_parameters`` (``moto/rds/models.py``) marks
    each parameter it sets ``Source: user``, and ``RDSResponse.describe_db_parameters``
    (``moto/rds/responses.py``) filters by the request's ``Source``.
    """
    from moto.rds.models import DBParameterGroup
    from moto.rds.responses import RDSResponse

    original_update = DBParameterGroup.update_parameters

    @functools.wraps(original_update)
    def update_parameters(self: DBParameterGroup, new: Iterable[dict[str, Any]]) -> None:
        original_update(self, [{**parameter, "Source": "user"} for parameter in new])

    original_describe = RDSResponse.describe_db_parameters

    @functools.wraps(original_describe)
    def describe_db_parameters(self: RDSResponse) -> Any:
        from moto.core.responses import ActionResult

        result = original_describe(self)
        source = self.params.get("Source")
        if source is None:
            return result
        parameters = [p for p in result.result["Parameters"] if p.get("Source") == source]
        return ActionResult({"Parameters": parameters})

    DBParameterGroup.update_parameters = update_parameters
    RDSResponse.describe_db_parameters = describe_db_parameters


def sqs_redrive_policy_as_json() -> None:
    """A queue's redrive policy reads back as compact JSON.

    AWS returns the ``RedrivePolicy`` attribute as ``{"deadLetterTargetArn":"…",
    "maxReceiveCount":4}``, without spaces; moto adds a space after every ``,`` and ``:``,
    which a client comparing the text it sent sees as a change.

    Upstream: moto's ``Queue.attributes`` (``moto/sqs/models.py``) dumps the redrive
    policy with ``separators=(",", ":")``.
    """
    from moto.sqs.models import Queue

    original = Queue.attributes.fget

    def attributes(self: Queue) -> dict[str, Any]:
        result = original(self)
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
        return result

    Queue.attributes = property(attributes)


def lambda_logging_config() -> None:
    """A function keeps its logging configuration.

    AWS stores ``LoggingConfig`` (log format, log group, and for JSON logs the levels)
    from ``CreateFunction`` and ``UpdateFunctionConfiguration`` and returns it with the
    function's configuration, ``{"LogFormat": "Text", "LogGroup": "/aws/lambda/NAME"}``
    when none was given; the function logs to that group. moto neither keeps nor returns it.

    Upstream: moto's ``LambdaFunction`` (``moto/awslambda/models.py``) keeps
    ``LoggingConfig`` from the create spec and from ``update_configuration``, with AWS's
    default, and returns it from ``get_configuration``.
    """
    from moto.awslambda.models import LambdaFunction

    original_init = LambdaFunction.__init__
    original_get = LambdaFunction.get_configuration
    original_update = LambdaFunction.update_configuration

    def set_logging(function: LambdaFunction, given: dict[str, Any] | None) -> None:
        current = getattr(function, "logging_config", None) or {
            "LogFormat": "Text",
            "LogGroup": f"/aws/lambda/{function.function_name}",
        }
        function.logging_config = {**current, **(given or {})}
        function.logs_group_name = function.logging_config["LogGroup"]

    signature = inspect.signature(original_init)

    @functools.wraps(original_init)
    def __init__(self: LambdaFunction, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        spec = signature.bind(self, *args, **kwargs).arguments["spec"]
        set_logging(self, spec.get("LoggingConfig"))

    @functools.wraps(original_get)
    def get_configuration(self: LambdaFunction, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {**original_get(self, *args, **kwargs), "LoggingConfig": self.logging_config}

    @functools.wraps(original_update)
    def update_configuration(self: LambdaFunction, updates: dict[str, Any]) -> dict[str, Any]:
        if "LoggingConfig" in updates:
            set_logging(self, updates["LoggingConfig"])
        return original_update(self, updates)

    LambdaFunction.__init__ = __init__
    LambdaFunction.get_configuration = get_configuration
    LambdaFunction.update_configuration = update_configuration


def ecs_availability_zone_rebalancing() -> None:
    """A service keeps its Availability Zone rebalancing setting.

    AWS stores ``availabilityZoneRebalancing`` from ``CreateService`` (``ENABLED`` when
    not given) and ``UpdateService`` and returns it with the service; moto drops it on
    create, so the service reads back without it.

    Upstream: moto's ``EC2ContainerServiceResponse.create_service``
    (``moto/ecs/responses.py``) passes ``availabilityZoneRebalancing`` to the backend's
    ``create_service``, and its ``Service`` keeps it (``ENABLED`` by default).
    """
    from moto.ecs.responses import EC2ContainerServiceResponse

    original = EC2ContainerServiceResponse.create_service

    @functools.wraps(original)
    def create_service(self: EC2ContainerServiceResponse) -> Any:
        result = original(self)
        setting = self._get_param("availabilityZoneRebalancing") or "ENABLED"
        result.result["service"].availability_zone_rebalancing = setting
        return result

    EC2ContainerServiceResponse.create_service = create_service


def s3_eventbridge_notifications() -> None:
    """A bucket's notification configuration shows that it sends events to EventBridge.

    AWS returns ``EventBridgeConfiguration`` in ``GetBucketNotificationConfiguration``
    once it was put; moto keeps it (and sends the events) but leaves it out of the answer.

    Upstream: moto's ``S3Response.get_bucket_notification`` (``moto/s3/responses.py``) adds
    ``"EventBridgeConfiguration": {}`` to its result when the configuration's
    ``event_bridge`` is set.
    """
    from moto.core.responses import ActionResult
    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_notification

    @functools.wraps(original)
    def get_bucket_notification(self: S3Response) -> Any:
        configuration = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if configuration is None or configuration.event_bridge is None:
            return original(self)
        serialized = self.serialized

        def with_eventbridge(result: Any) -> Any:
            if isinstance(result, ActionResult):
                result.result["EventBridgeConfiguration"] = {}
            return serialized(result)

        self.serialized = with_eventbridge
        try:
            return original(self)
        finally:
            del self.serialized

    S3Response.get_bucket_notification = get_bucket_notification


PATCHES: tuple[Callable[[], None], ...] = (
    ec2_launch_template_tags,
    ec2_security_group_rule_descriptions,
    rds_performance_insights,
    rds_parameter_sources,
    sqs_redrive_policy_as_json,
    lambda_logging_config,
    ecs_availability_zone_rebalancing,
    s3_eventbridge_notifications,
)
