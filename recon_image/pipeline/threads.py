"""Work spread over the job's threads, with NumPy's BLAS kept to one thread meanwhile.

The worker gives every step ``OMP_NUM_THREADS`` = the job's vCPUs, and OpenBLAS starts
that many threads for each matrix product. Products called from several threads of our
own would then run threads x vCPUs threads that preempt each other, and the slices we
solve side by side would slow each other down; so while a pool of ours runs, BLAS runs
single-threaded in each of its threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import TypeVar

from threadpoolctl import threadpool_limits

T = TypeVar("T")


@contextmanager
def thread_pool(threads: int) -> Iterator[ThreadPoolExecutor]:
    """A pool of ``threads`` workers (at least one); BLAS is single-threaded while it is open."""
    workers = max(1, threads)
    with ExitStack() as stack:
        if workers > 1:
            stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
        yield stack.enter_context(ThreadPoolExecutor(max_workers=workers))


def run_each(work: Callable[[T], object], items: Iterable[T], threads: int) -> None:
    """Call ``work`` on every item on ``threads`` threads; the first exception is raised."""
    with thread_pool(threads) as pool:
        list(pool.map(work, items))
