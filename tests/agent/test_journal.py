"""The task journal: a step recorded is on disk when ``done`` returns, even under SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from agent.errors import BadTask
from agent.journal import TaskJournal

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_steps_and_facts_survive_a_new_journal_on_the_same_file(tmp_path):
    path = tmp_path / "task.json"
    journal = TaskJournal(path)
    assert not journal.is_done("upload")
    journal.done("deidentify", recon_mode="yc_cartesian", patches=[[128, "ab"]])
    journal.done("upload", sha256="0" * 64, size=4096)
    again = TaskJournal(path)
    assert again.steps() == ["deidentify", "upload"]
    assert again.is_done("upload")
    assert again.facts("upload") == {"sha256": "0" * 64, "size": 4096}
    assert again.facts("deidentify")["patches"] == [[128, "ab"]]
    assert again.when("upload") is not None
    with pytest.raises(KeyError):
        again.facts("download")


def test_forget_makes_a_step_run_again(tmp_path):
    journal = TaskJournal(tmp_path / "task.json")
    journal.done("poll", status="FAILED")
    journal.done("upload")
    journal.forget("poll")
    assert TaskJournal(tmp_path / "task.json").steps() == ["upload"]


def test_facts_that_are_not_json_are_refused_and_nothing_changes(tmp_path):
    journal = TaskJournal(tmp_path / "task.json")
    journal.done("upload")
    with pytest.raises(TypeError):
        journal.done("poll", when=object())
    assert TaskJournal(tmp_path / "task.json").steps() == ["upload"]
    assert [p.name for p in tmp_path.iterdir()] == ["task.json"]


@pytest.mark.parametrize(
    "content",
    [b'{"version": 1, "steps": [{"step": "upl', b"\x00" * 64, b'{"version": 7, "steps": []}'],
    ids=["cut", "zeros", "other-version"],
)
def test_a_corrupt_journal_is_bad_task_saying_how_to_start_over(tmp_path, content):
    path = tmp_path / "task.json"
    path.write_bytes(content)
    with pytest.raises(BadTask) as refused:
        TaskJournal(path)
    assert str(path) in str(refused.value) and "start it over" in str(refused.value)


WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from agent.journal import TaskJournal
    journal = TaskJournal(sys.argv[1])
    if sys.argv[2] == "once":
        journal.done("upload", upload_id="abc")
        os.kill(os.getpid(), signal.SIGKILL)
    index = 0
    while True:
        journal.done(f"step{index}", payload="x" * 4096, index=index)
        index += 1
    """
)


def run_writer(path, how: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), how],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
    )


def test_a_sigkill_right_after_done_keeps_the_step(tmp_path):
    path = tmp_path / "task.json"
    writer = run_writer(path, "once")
    assert writer.wait(timeout=60) == -signal.SIGKILL
    journal = TaskJournal(path)
    assert journal.facts("upload") == {"upload_id": "abc"}


def test_a_sigkill_while_writing_leaves_a_whole_journal(tmp_path):
    path = tmp_path / "task.json"
    writer = run_writer(path, "loop")
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if path.exists() and len(json.loads(path.read_bytes())["steps"]) >= 40:
                break
            time.sleep(0.01)
        else:
            pytest.fail("the writer did not record 40 steps within 60 s")
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    steps = TaskJournal(path).steps()
    assert len(steps) >= 40
    assert steps == [f"step{i}" for i in range(len(steps))]
    assert [p.name for p in tmp_path.iterdir()] == ["task.json"]
