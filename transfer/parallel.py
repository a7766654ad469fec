"""Parts in parallel, with a bound on how many are in flight (and so in memory)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait


def run_bounded(
    fn: Callable[[int], None], items: Iterable[int], concurrency: int, name: str
) -> None:
    """Run ``fn`` over ``items`` with at most ``concurrency`` in flight.

    No new item starts after the first failure, which is raised once the items
    already running have ended.
    """
    limit = max(1, concurrency)
    failure: BaseException | None = None
    todo = iter(items)
    with ThreadPoolExecutor(limit, thread_name_prefix=name) as pool:
        pending: set[Future[None]] = set()
        while True:
            while failure is None and len(pending) < limit:
                item = next(todo, None)
                if item is None:
                    break
                pending.add(pool.submit(fn, item))
            if not pending:
                break
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                exc = future.exception()
                if exc is not None and failure is None:
                    failure = exc
    if failure is not None:
        raise failure
