"""Where :func:`forecasting.capacity.demand.path_cases` writes: a block's reused buffers, and
per-thread scratch arrays for the draws and what passes between its compiled steps.

Fresh memory costs more to touch the first time than the work done in it (a Leeds-scale path
is ~68,000 cases, a block of 50 paths ~150 MB), so a path is written straight into the
buffers of the block being made (:data:`SLOT`, offered by ``block_cases``) and its temporary
arrays are reused from path to path (:func:`room`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import DTypeLike

if TYPE_CHECKING:
    from forecasting.capacity.demand import CaseArrays

__all__ = ["EMPTY_DTYPES", "FIELDS", "SLOT", "Slot", "make_room", "room", "scratch"]

#: The fields of ``CaseArrays``, in order.
FIELDS = ("time", "stage", "case_class", "work_multiplier", "deadline", "complexity",
          "exception", "origin")

#: Field types of a block with no cases at all (normally they follow the parts'), and of
#: the cases path_cases makes.
EMPTY_DTYPES = {"time": np.float64, "stage": np.int64, "case_class": np.int64,
                "work_multiplier": np.float64, "deadline": np.float64, "complexity": np.int8,
                "exception": np.bool_, "origin": np.int8}


@dataclass
class Slot:
    """Where the next path of a block goes: ``buffers`` from index ``at``; it is path ``k`` of
    the ``n_paths`` (if known) of the block (for sizing buffers made or grown). ``made``: the
    parts path_cases wrote there, if it did."""

    buffers: dict[str, np.ndarray]
    at: int
    k: int
    n_paths: int | None
    made: tuple[CaseArrays, ...] | None = None


class _Offer(threading.local):
    target: Slot | None = None


#: block_cases's offer to the path_cases call it is waiting for, per thread: taken (and so
#: cleared) by the first path_cases call, so a path made at any other moment gets its own
#: arrays.
SLOT = _Offer()


def make_room(buffers: dict[str, np.ndarray], keep: int, need: int, k: int,
              n_paths: int | None, dtypes: Mapping[str, DTypeLike]) -> None:
    """Make every buffer hold at least ``need`` items, keeping items ``:keep``.

    Examples
    --------
    >>> buffers = {}
    >>> make_room(buffers, 0, 10, 0, 4, EMPTY_DTYPES)
    >>> buffers["time"].shape[0] >= 40, buffers["origin"].dtype == np.int8
    (True, True)
    """
    if all(buffers.get(f) is not None and buffers[f].shape[0] >= need for f in FIELDS):
        return
    # Room for the rest of the block at the mean path size so far, plus a margin (the same
    # buffers serve the next blocks, whose paths differ a little).
    guess = need * max(n_paths or 0, k + 1) // (k + 1)
    size = guess + guess // 4 + 16
    for f in FIELDS:
        old = buffers.get(f)
        buf = np.empty(size, old.dtype if old is not None else dtypes[f])
        if old is not None and keep:
            buf[:keep] = old[:keep]
        buffers[f] = buf


class _Scratch(threading.local):
    arrays: dict[str, np.ndarray] | None = None


_SCRATCH = _Scratch()


def room(name: str, n: int, dtype: type = np.float64) -> np.ndarray:
    """This thread's scratch array ``name``, at least ``n`` long (reused from path to path
    for the draws and what passes between the compiled steps; dead once path_cases
    returns): no fresh memory, whose first touch costs more than the work done in it.

    Examples
    --------
    >>> a = room("example", 5)
    >>> a.shape[0] >= 5, room("example", 3) is a
    (True, True)
    """
    if _SCRATCH.arrays is None:
        _SCRATCH.arrays = {}
    buf = _SCRATCH.arrays.get(name)
    if buf is None or buf.shape[0] < n:
        buf = _SCRATCH.arrays[name] = np.empty(n + n // 4 + 16, dtype)
    return buf


def scratch(name: str, n: int) -> np.ndarray:
    """The first ``n`` items of :func:`room` ``name`` (float64).

    Examples
    --------
    >>> scratch("example", 4).shape
    (4,)
    """
    return room(name, n)[:n]
