"""Finished tasks are forgotten ``keep_days`` after they ended; moving and failed ones stay."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.config import AgentConfig
from agent.ort import OrtFolders
from agent.retention import prune_finished
from agent.service import Agent
from agent.status import TaskState, agent_root, task_rows
from tests.agent.test_config import written_by_admin

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DAY = 86400.0


def task(base: Path, uuid: str, stage: str, ended_days_ago: float | None) -> None:
    """A task's state record and journal as the agent leaves them."""
    state = TaskState(agent_root(base) / uuid)
    values = {"stage": stage, "created": NOW.timestamp() - 40 * DAY}
    if ended_days_ago is not None:
        values["ended"] = NOW.timestamp() - ended_days_ago * DAY
    state.update(**values)
    journal = OrtFolders(base).journal_file(uuid)
    journal.parent.mkdir(parents=True, exist_ok=True)
    journal.write_text("{}")


def make_tasks(base: Path) -> None:
    task(base, "old-completed", "completed", 31)
    task(base, "old-cloud-error", "processing error", 45)
    task(base, "recent-completed", "completed", 29)
    task(base, "old-failed", "failed", None)
    task(base, "moving", "poll", None)
    task(base, "before-end-times", "completed", None)
    record = agent_root(base) / "before-end-times" / "state.json"
    os.utime(record, (NOW.timestamp() - 60 * DAY,) * 2)


def listed(base: Path) -> set[str]:
    return {row.uuid for row in task_rows(base, now=NOW.timestamp())}


def test_tasks_that_ended_before_the_kept_days_are_forgotten(tmp_path: Path) -> None:
    make_tasks(tmp_path)
    pruned = prune_finished(tmp_path, keep_days=30, now=NOW.timestamp())

    assert pruned == ["before-end-times", "old-cloud-error", "old-completed"]
    assert listed(tmp_path) == {"recent-completed", "old-failed", "moving"}
    journals = {path.stem for path in OrtFolders(tmp_path).journal.glob("*.json")}
    assert journals == {"recent-completed", "old-failed", "moving"}


def test_zero_keep_days_keeps_every_task(tmp_path: Path) -> None:
    make_tasks(tmp_path)
    assert prune_finished(tmp_path, keep_days=0, now=NOW.timestamp()) == []
    assert len(listed(tmp_path)) == 6


def test_the_running_agent_forgets_them_with_its_own_clock(tmp_path: Path) -> None:
    config = AgentConfig.load(written_by_admin(tmp_path))
    make_tasks(config.base)
    agent = Agent(config)
    agent.context.now = lambda: NOW + timedelta(days=2)
    agent.run(until=lambda: True)

    assert listed(config.base) == {"old-failed", "moving"}
