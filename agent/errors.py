"""The agent's errors. Each message says what is wrong and what to do; none carries PHI."""

from __future__ import annotations


class AgentError(Exception):
    """Base of the agent's own errors; ``str(error)`` is what ``status`` and the log show."""


class ConfigError(AgentError):
    """The agent's configuration (TOML, key file, folders) is wrong or incomplete."""


class DeidRefused(AgentError):
    """De-identification refused the file: uploading it could leak identity. Nothing was sent."""


class BadTask(AgentError):
    """A task in the ORT folders that cannot be processed (missing files, unreadable .task/.phi)."""


class CloudError(AgentError):
    """The cloud answered with an error; ``transient`` says whether a retry can help."""

    def __init__(self, message: str, *, transient: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status
        """The HTTP status of the refusal; None when no answer came."""


class CloudForgot(CloudError):
    """The cloud holds no record of a task it was given; ``retry`` uploads the task again."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


class DeliveryError(AgentError):
    """Images could not be delivered to a destination (PACS down, share unwritable); retried."""
