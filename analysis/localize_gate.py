"""How many huge-cube root-cause searches one process runs at once.

From :data:`BIG_LEAVES` leaves (where :mod:`analysis.localize_columns` reads the cube
column-wise: RiskLoc's H cases have 24 million) one ``explain --localize`` holds several GB
while it reads and searches (about 6 GB on an H case). A server answering several such
requests at once would run out of memory; each one takes a *slot* first, and a request that
finds every slot taken within :data:`WAIT_SECONDS` is refused with
:class:`LocalizeBusyError` (HTTP 503 with ``Retry-After``, in the request's language) instead
of queueing gigabytes. Smaller cubes take no slot. The number of slots is the setting
``localize_slots`` (``KPIGRAPH_LOCALIZE_SLOTS``, default :data:`DEFAULT_SLOTS`), set by the
app when it is built (:func:`configure`); a command line runs one search and never waits.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from core.i18n import _
from graph_schema.errors import KpigraphError

#: cubes from this many leaves take a slot (analysis.localize_columns.COLUMNAR_LEAVES: not
#: imported, that module brings numpy into every server start)
BIG_LEAVES = 200_000
#: slots when nothing is configured
DEFAULT_SLOTS = 2
#: how long a request waits for a slot before it is refused
WAIT_SECONDS = 1.0


class LocalizeBusyError(KpigraphError):
    """Every slot for huge-cube root-cause searches is taken: try again later (503)."""

    code = "localize_busy"


class _Slots:
    def __init__(self, n: int) -> None:
        self.size = n
        self.semaphore = threading.BoundedSemaphore(n)


_slots = _Slots(DEFAULT_SLOTS)


def configure(slots: int) -> None:
    """Allow ``slots`` huge-cube searches at once in this process (at least one)."""
    global _slots
    if slots < 1:
        raise ValueError(f"localize_slots must be at least 1, not {slots}")
    if slots != _slots.size:
        _slots = _Slots(slots)


@contextlib.contextmanager
def slot(leaves: int) -> Iterator[None]:
    """Hold a slot while a cube of ``leaves`` leaves is read and searched (none below
    :data:`BIG_LEAVES`); :class:`LocalizeBusyError` when none frees within the wait."""
    if leaves < BIG_LEAVES:
        yield
        return
    held = _slots  # the one acquired is the one released, even if reconfigured meanwhile
    if not held.semaphore.acquire(timeout=WAIT_SECONDS):
        raise LocalizeBusyError(
            _(
                "busy: this server already runs {n} root-cause search(es) over {leaves}+ "
                "leaves, each holding several GB; try again in a minute, or localize over "
                "fewer dimensions (by=)",
                n=held.size,
                leaves=f"{BIG_LEAVES:,}",
            ),
            {"slots": held.size, "leaves": leaves},
        )
    try:
        yield
    finally:
        held.semaphore.release()
