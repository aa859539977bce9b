"""Running the jobs' outside calls (Open-Meteo, the LLM) on a few threads at a time.

Worker threads get a copy of the job's Sentry scopes (sentry-sdk's threading integration), so
their spans join the job's transaction, but breadcrumbs added there would be lost to the events
the job reports afterwards. `in_job_scope` makes them record into the job's own isolation scope.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

import sentry_sdk
from sentry_sdk.scope import use_isolation_scope  # what sentry-sdk's own threading integration uses

P = ParamSpec("P")
Item = TypeVar("Item")
Result = TypeVar("Result")


def in_job_scope(function: Callable[P, Result]) -> Callable[P, Result]:
    """`function`, recording breadcrumbs into the caller's isolation scope from any thread."""
    scope = sentry_sdk.get_isolation_scope()

    def run(*args: P.args, **kwargs: P.kwargs) -> Result:
        with use_isolation_scope(scope):
            return function(*args, **kwargs)

    return run


def in_order(
    pool: ThreadPoolExecutor, function: Callable[[Item], Result], items: Iterable[Item], *, ahead: int
) -> Iterator[Result]:
    """function(item) for each item on the pool, results in the items' order, with at most
    `ahead` started and not yet taken (so that results do not pile up in memory)."""
    pending: deque[Future[Result]] = deque()
    for item in items:
        pending.append(pool.submit(function, item))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
