"""The backend's own exception types: each message says what is wrong and what to do."""


class YarraCloudError(Exception):
    """Base of every error the backend raises on purpose."""


class ConfigurationError(YarraCloudError):
    """The deployment is misconfigured (an operator's problem, not a user's)."""


class TaskRejected(YarraCloudError):
    """A task cannot succeed as uploaded: it ends ``FAILED`` with this message, never retried."""


class TaskFileError(TaskRejected):
    """The Yarra task file is missing, malformed or inconsistent."""


class TaskUnavailable(YarraCloudError):
    """The task id cannot be used by this caller.

    The message never reveals whether another user holds the id.
    """

    def __init__(self, task_id: str) -> None:
        super().__init__(f"task {task_id} is not available to this user; choose a new UUID")
