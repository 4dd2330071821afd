"""Binary-heap building blocks of the engine's event loop, and a fast stable time ordering.

- the event heap: a 4-ary min-heap of (time, payload) rows of one array;
- pool queues: one binary min-heap per pool (row ``q`` of 2-D arrays) keyed by
  (priority rank, policy key, join order);
- FIFO pool queues: with ``fifo`` the policy key is the join time, so each priority level is
  served in join order and a linked list per level gives the heap's order in O(1);
- :func:`time_order`: a stable argsort of arrival times in O(n).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["ev_pop", "ev_push", "fifo_levels", "fifo_pop", "fifo_push", "q_pop", "q_push",
           "time_order"]


# --- event heap: 4-ary min-heap of (time, payload) ----------------------------------------------
# Row i of ``heap`` is (time, payload) with payload = id * 4 + type stored as a float (exact below
# 2**53): one array instead of two halves the array bookkeeping of each inlined call and keeps
# an entry's two keys in one cache line. A 4-ary heap with a moving "hole" (no swaps) halves the
# levels touched per operation; ties in time are broken by payload so the order never depends
# on insertion history.

@njit(cache=True, inline="always")
def ev_lt(t1, p1, t2, p2):
    return t1 < t2 or (t1 == t2 and p1 < p2)


@njit(cache=True, inline="always")
def ev_push(heap, n, t, payload):
    p = float(payload)
    i = n
    while i > 0:
        parent = (i - 1) >> 2
        if ev_lt(t, p, heap[parent, 0], heap[parent, 1]):
            heap[i, 0] = heap[parent, 0]
            heap[i, 1] = heap[parent, 1]
            i = parent
        else:
            break
    heap[i, 0] = t
    heap[i, 1] = p
    return n + 1


@njit(cache=True, inline="always")
def ev_pop(heap, n):
    """Remove the head (read ``heap[0]`` first); return the new size."""
    n -= 1
    t = heap[n, 0]
    p = heap[n, 1]
    i = 0
    while True:
        first = 4 * i + 1
        if first >= n:
            break
        best = first
        last = first + 4 if first + 4 < n else n
        for j in range(first + 1, last):
            if ev_lt(heap[j, 0], heap[j, 1], heap[best, 0], heap[best, 1]):
                best = j
        if ev_lt(heap[best, 0], heap[best, 1], t, p):
            heap[i, 0] = heap[best, 0]
            heap[i, 1] = heap[best, 1]
            i = best
        else:
            break
    heap[i, 0] = t
    heap[i, 1] = p
    return n


# --- pool queues: one binary heap per pool (row q of 2-D arrays), ordered by (k1, k2, seq) -------

@njit(cache=True, inline="always")
def q_lt(a1, a2, as_, b1, b2, bs):
    if a1 != b1:
        return a1 < b1
    if a2 != b2:
        return a2 < b2
    return as_ < bs


@njit(cache=True, inline="always")
def q_push(k1, k2, sq, qc, q, n, a, b, seq, case):
    i = n
    while i > 0:
        parent = (i - 1) >> 1
        if q_lt(a, b, seq, k1[q, parent], k2[q, parent], sq[q, parent]):
            k1[q, i] = k1[q, parent]
            k2[q, i] = k2[q, parent]
            sq[q, i] = sq[q, parent]
            qc[q, i] = qc[q, parent]
            i = parent
        else:
            break
    k1[q, i] = a
    k2[q, i] = b
    sq[q, i] = seq
    qc[q, i] = case


@njit(cache=True, inline="always")
def q_pop(k1, k2, sq, qc, q, n):
    """Remove the head of queue ``q`` of size ``n``; return the case."""
    case = qc[q, 0]
    n -= 1
    a = k1[q, n]
    b = k2[q, n]
    sn = sq[q, n]
    cn = qc[q, n]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= n:
            break
        best = left
        right = left + 1
        if right < n and q_lt(k1[q, right], k2[q, right], sq[q, right],
                               k1[q, left], k2[q, left], sq[q, left]):
            best = right
        if q_lt(k1[q, best], k2[q, best], sq[q, best], a, b, sn):
            k1[q, i] = k1[q, best]
            k2[q, i] = k2[q, best]
            sq[q, i] = sq[q, best]
            qc[q, i] = qc[q, best]
            i = best
        else:
            break
    k1[q, i] = a
    k2[q, i] = b
    sq[q, i] = sn
    qc[q, i] = cn
    return case


# --- FIFO pool queues: one linked list per (pool, priority level) ----------------------------------

@njit(cache=True)
def fifo_levels(pool_of, prio, class_rank):
    """Level of each (stage, class) within its pool: the rank of its heap key ``k1``.

    Returns ``lvl[stage, class]`` and the number of levels of each pool. Keys that are equal
    share a level, where the heap would order them by join time then join order, i.e. FIFO.
    """
    n_stages = pool_of.shape[0]
    n_pools = class_rank.shape[0]
    n_cls = class_rank.shape[1]
    slots = n_cls + 1
    lvl = np.zeros((n_stages, max(n_cls, 1)), np.int64)
    n_lv = np.zeros(n_pools, np.int64)
    kv = np.empty(max(n_stages * n_cls, 1), np.int64)
    for q in range(n_pools):
        m = 0
        for s in range(n_stages):
            if pool_of[s] == q:
                for k in range(n_cls):
                    kv[m] = prio[s] * slots + class_rank[q, k]
                    m += 1
        if m == 0:
            continue
        u = np.unique(kv[:m])
        n_lv[q] = u.shape[0]
        for s in range(n_stages):
            if pool_of[s] == q:
                for k in range(n_cls):
                    lvl[s, k] = np.searchsorted(u, prio[s] * slots + class_rank[q, k])
    return lvl, n_lv


@njit(cache=True, inline="always")
def fifo_push(head, tail, nxt, q, lv, case):
    nxt[case] = -1
    last = tail[q, lv]
    if last < 0:
        head[q, lv] = case
    else:
        nxt[last] = case
    tail[q, lv] = case


@njit(cache=True, inline="always")
def fifo_pop(head, tail, nxt, q, n_levels):
    """Remove and return the first case of the lowest non-empty level (the queue is not empty)."""
    for lv in range(n_levels):
        case = head[q, lv]
        if case >= 0:
            head[q, lv] = nxt[case]
            if nxt[case] < 0:
                tail[q, lv] = -1
            return case
    return -1


@njit(cache=True)
def time_order(t, order, key):
    """Stable argsort of ``t`` into ``order`` in O(n) for spread-out times.

    A counting sort on ``n`` equal-width time buckets (stable), then an insertion sort, which
    only has to fix the few inversions inside buckets (with a merge-sort fallback when times
    are bunched). ``key`` is scratch of length ``n``.
    """
    n = t.shape[0]
    lo = t[0]
    hi = t[0]
    for i in range(n):
        if t[i] < lo:
            lo = t[i]
        if t[i] > hi:
            hi = t[i]
    scale = n / (hi - lo) if hi > lo else 0.0
    counts = np.zeros(n + 1, np.int64)
    for i in range(n):
        k = int((t[i] - lo) * scale)
        if k >= n:
            k = n - 1
        key[i] = k
        counts[k + 1] += 1
    for k in range(n):
        counts[k + 1] += counts[k]
    for i in range(n):
        order[counts[key[i]]] = i
        counts[key[i]] += 1
    moves = 0
    for i in range(1, n):
        o = order[i]
        v = t[o]
        j = i - 1
        while j >= 0 and t[order[j]] > v:
            order[j + 1] = order[j]
            j -= 1
        order[j + 1] = o
        moves += i - 1 - j
        if moves > 16 * n:
            # Times bunched into few buckets: fall back to a merge sort (also stable).
            order[:] = np.argsort(t, kind="mergesort")
            return
