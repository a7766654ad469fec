"""A local cloud (queues not polled) for the administration's operations to change."""

from __future__ import annotations

import pytest

from administration.site_users import NewKey, SiteUsers
from scripts.local_cloud.cloud import LocalCloud
from scripts.local_cloud.seed import DEMO_MODE, publish_mode


class RecordingHook:
    """Keeps what it hears, as a deployment's own record of keys would."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}

    def key_created(self, key: NewKey) -> None:
        self.secrets[key.access_key_id] = key.secret_access_key

    def key_deleted(self, user_name: str, access_key_id: str) -> None:
        self.secrets.pop(access_key_id, None)


@pytest.fixture
def cloud(make_cloud) -> LocalCloud:
    cloud = make_cloud(poll=False)
    publish_mode(DEMO_MODE["mode_id"], DEMO_MODE["client_config"])
    return cloud


@pytest.fixture
def hook() -> RecordingHook:
    return RecordingHook()


@pytest.fixture
def users(cloud: LocalCloud, hook: RecordingHook) -> SiteUsers:
    return SiteUsers(cloud.clients.session.client("iam"), cloud.resources.site_user_group(), hook)
