"""Forgetting finished tasks: their journal and state record, ``keep_days`` after they ended.

Once a task is over its images are in the PACS and its ``.phi`` file lies in
``cloud/phi_archive`` (ORT's record, which the agent never deletes). What the agent
keeps besides, the step journal and the state record that ``status`` lists, matters
while the task moves and, for a while after, to answer what became of it; kept for
ever they would make ``status`` list every scan the site has ever sent. Tasks
stopped by an error (stage ``failed``) are kept until someone retries them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from agent.ort import OrtFolders
from agent.status import ENDED, STATE_FILE, agent_root
from transfer import journal as atomic

DAY = 86400.0


def prune_finished(base: Path, *, keep_days: int, now: float) -> list[str]:
    """Remove the records of tasks that ended more than ``keep_days`` before ``now``.

    Parameters
    ----------
    base
        The ORT base folder (``[folders] base``).
    keep_days
        Days to keep a finished task; 0 keeps every task.
    now
        Wall-clock seconds since the epoch.

    Returns
    -------
    list[str]
        The UUIDs whose records were removed, sorted.
    """
    root = agent_root(base)
    if keep_days <= 0 or not root.is_dir():
        return []
    folders = OrtFolders(base)
    pruned = []
    for folder in root.iterdir():
        state_file = folder / STATE_FILE
        state = atomic.load(state_file) if state_file.is_file() else None
        if not state or state.get("stage") not in ENDED:
            continue
        ended = float(state.get("ended") or state_file.stat().st_mtime)
        if now - ended <= keep_days * DAY:
            continue
        # The journal first: a kill in between leaves a record that lists the task as over.
        folders.journal_file(folder.name).unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
        pruned.append(folder.name)
    return sorted(pruned)
