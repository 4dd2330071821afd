"""The compiled event loop behind :func:`forecasting.capacity.engine.run`.

One path is simulated by :func:`sim_path` with a calendar of pending events (work done, stage
end, daily capacity check): time buckets holding unsorted lists, and a small 4-ary heap for the
current bucket only, merged with the time-sorted arrivals. Each pool keeps its waiting jobs
ordered by (stage priority and class rank, policy key, join order): a binary heap, or for
``fifo`` pools a linked list per priority level (the same order in O(1)). Per-case state is
case-major (one row per case) and the helpers are inlined, so an event touches few cache lines.
The event loop itself (:func:`_event_loop`) is compiled without numba's reference counting: it
allocates nothing, so no array count is updated per event (atomic updates of counts that the
threads share were a tenth of the time). No Python objects are created per event.
:func:`run_paths` runs a block of paths without the GIL, so the caller can run blocks on
several threads (cheaper to compile than numba ``parallel=True``).

Weekly "at week end" counts are accumulated as difference arrays over each case's time in a
stage (O(bands) per case-stage visit), so they cost nothing per week.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from forecasting.capacity.distributions import draw, stream_at, stream_base, uniform
from forecasting.capacity.engine_heaps import (
    ev_pop,
    ev_push,
    fifo_levels,
    fifo_pop,
    fifo_push,
    q_pop,
    q_push,
    time_order,
)

__all__ = ["route_table", "run_paths", "scratch", "sim_path"]

# numba's on-disk cache is keyed by this file's text only, not by the functions it inlines from
# other modules (distributions.py, engine_heaps.py): after changing those, change DRAWS here so
# that cached kernels are rebuilt with them (else they keep the old code, silently).
DRAWS = "ziggurat normals, Marsaglia-Tsang gamma with squeeze, both inlined"

_WORK_DONE = 0
_STAGE_END = 1
_TICK = 2

# Columns of the per-case float and int state.
_T_ARR, _MULT, _DL, _ENTRY, _START, _DEND, _WORK, _SERVED = 0, 1, 2, 3, 4, 5, 6, 7
_STAGE0, _CLS, _PHASE, _CUR, _HOP, _NXT, _ORD, _LNK = 0, 1, 2, 3, 4, 5, 6, 7
# Once a case has arrived its entry stage is not needed again: the slot then holds the random
# stream base of its current (case, hop), shared by that stage's draws and its routing.
_BASE = _STAGE0
# Once a case has left, its service start and queue link are not needed again: they hold the
# time and exit it left by, scattered to the caller's order after the loop (writing them to
# ``exit_time[case]`` at once was a cache miss on the critical path of every exit).
_EXIT_T = _START
_EXIT_E = _NXT

_WAITING = 1
_SERVICE = 2
_DELAY = 3
_EXITED = 4


# --- helpers --------------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _finish_time(t, hours, speed, srun, q):
    """Time at which ``hours`` of work started at ``t`` is done, integrating ``speed[q]``.

    Steps over each run of days with the same speed at once (``srun``, see :func:`_speed_runs`),
    not day by day: a 12-hour job at 2.5 hours a day is one step, not five.
    """
    if hours <= 0.0:
        return t
    n_days = speed.shape[1]
    d = int(math.floor(t))
    while True:
        if d >= n_days - 1:
            sp = speed[q, n_days - 1]
            if sp <= 0.0:
                return math.inf
            return t + hours / sp
        if d >= 0:
            sp = speed[q, d]
            e = srun[q, d]
        else:
            sp = speed[q, 0]
            e = d + 1
        avail = sp * (e - t)
        if avail >= hours:
            return t + hours / sp
        hours -= avail
        t = float(e)
        d = e


@njit(cache=True)
def _speed_runs(speed):
    """``srun[q, d]``: the first day after ``d`` whose speed differs from day ``d``'s, at most
    the last day (from which the last day's speed holds for ever)."""
    n_pools, n_days = speed.shape
    srun = np.empty((n_pools, n_days), np.int64)
    for q in range(n_pools):
        srun[q, n_days - 1] = n_days - 1
        for d in range(n_days - 2, -1, -1):
            if d + 1 < n_days - 1 and speed[q, d + 1] == speed[q, d]:
                srun[q, d] = srun[q, d + 1]
            else:
                srun[q, d] = d + 1
    return srun


@njit(cache=True, inline="always")
def _servers_on(servers, q, t):
    n_days = servers.shape[1]
    d = int(math.floor(t))
    if d >= n_days:
        d = n_days - 1
    if d < 0:
        d = 0
    return servers[q, d]


@njit(cache=True, inline="always")
def _week(t, n_weeks):
    w = int(t / 7.0)  # t >= 0 here, so truncation is the floor
    return w if w < n_weeks else -1


@njit(cache=True, inline="always")
def _span_weeks(a, b, n_weeks):
    """Week indices ``[lo, hi)`` whose week end ``7 (w + 1)`` lies in ``(a, b]``.

    A week-end count is the state just before the boundary instant, so that it agrees with the
    weekly event counts, which put an event at exactly ``7 (w + 1)`` in week ``w + 1``.
    """
    if not a < b:
        return 0, 0
    lo = 0
    if a > 0.0:
        lo = int(math.floor(a / 7.0))
    if b >= 7.0 * (n_weeks + 1):
        hi = n_weeks
    else:
        hi = int(math.floor(b / 7.0))
    if hi > n_weeks:
        hi = n_weeks
    return lo, hi


@njit(cache=True, inline="always")
def _add_span(wdiff, s, a, b, n_weeks):
    """Count week ends in ``(a, b]`` into the difference array ``wdiff[s]``."""
    lo, hi = _span_weeks(a, b, n_weeks)
    if lo < hi:
        wdiff[s, lo] += 1
        wdiff[s, hi] -= 1


@njit(cache=True, inline="always")
def _add_banded(idiff, s, a, b, deadline, band_off, n_weeks):
    """Count week ends in ``(a, b]`` into ``idiff[s, band]`` by lateness band.

    Band 0 is up to ``deadline + band_off[0]``; band ``k`` after ``deadline + band_off[k-1]``.
    """
    n_edges = band_off.shape[0]
    if deadline == math.inf:
        lo, hi = _span_weeks(a, b, n_weeks)
        if lo < hi:
            idiff[s, 0, lo] += 1
            idiff[s, 0, hi] -= 1
        return
    k = 0
    while k < n_edges and a > deadline + band_off[k]:
        k += 1
    start = a
    while True:
        end = b
        if k < n_edges and deadline + band_off[k] < b:
            end = deadline + band_off[k]
        lo, hi = _span_weeks(start, end, n_weeks)
        if lo < hi:
            idiff[s, k, lo] += 1
            idiff[s, k, hi] -= 1
        if end >= b or lo >= n_weeks:
            break
        start = end
        k += 1


@njit(cache=True)
def route_table(route_cum):
    """The columns of ``route_cum`` that can be chosen: those whose cumulative probability
    rises (``r_col[s, :r_len[s]]``, with their ``r_cum``).

    The first ``j`` with ``u < route_cum[s, j]`` is always such a column (where it does not
    rise, ``u`` was already below the column before), so searching these alone gives the same
    destination in a step or two instead of up to one per stage and exit. Depends on the
    network only: made once per run (``engine.prepare_run``) and passed to the kernel.
    """
    n_stages, n_cols = route_cum.shape
    r_cum = np.empty((n_stages, n_cols), np.float64)
    r_col = np.empty((n_stages, n_cols), np.int64)
    r_len = np.zeros(n_stages, np.int64)
    for s in range(n_stages):
        prev = 0.0
        m = 0
        for j in range(n_cols):
            if route_cum[s, j] > prev:
                r_cum[s, m] = route_cum[s, j]
                r_col[s, m] = j
                m += 1
                prev = route_cum[s, j]
        r_len[s] = m
    return r_cum, r_col, r_len


@njit(cache=True)
def scratch(n, n_pools):
    """Scratch buffers for :func:`sim_path` for paths of up to ``n`` cases."""
    m = max(n, 1)
    cap = m + n_pools + 2
    # Per-case state is stored case-major (one row of 8 values per case) so that an event
    # touches one or two cache lines of its case instead of one line in each of 16 arrays.
    return (np.empty((m, 8), np.float64), np.empty((m, 8), np.int64), np.empty((2, m), np.int64),
            np.empty((n_pools, m), np.int64), np.empty((n_pools, m), np.float64),
            np.empty((n_pools, m), np.int64), np.empty((n_pools, m), np.int64),
            np.empty((cap, 2), np.float64))


@njit(cache=True, inline="always")
def _schedule(heap, hn, far, cur, ci, tick_next, bh, inv_w, n, t, payload, horizon):
    """Add an event: to the heap if it falls in the current bucket or earlier, else to its
    bucket's list. Returns the new heap size and number of events in later buckets.

    A bucket's list is linked through the case's own row (``ci[case, _LNK]``; ``tick_next``
    for a pool's daily check): a case has at most one pending event, and its time and type can
    be read back from the case (see the drain in :func:`_event_loop`), so scheduling touches
    no memory but the case's row and the bucket's head.
    """
    if not t < horizon:
        return hn, far
    b = int(t * inv_w)
    if b <= cur:
        return ev_push(heap, hn, t, payload), far
    idx = payload >> 2
    if payload & 3 == _TICK:
        tick_next[idx] = bh[b]
        bh[b] = n + idx
    else:
        ci[idx, _LNK] = bh[b]
        bh[b] = idx
    return hn, far + 1


# --- one path ---------------------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def sim_path(key, t_in, stage_in, cls_in, mult_in, dl_in, servers, speed,
             pool_of, prio, r_cum, r_col, r_len, dkind, dp1, dp2, des, dln, emp, par_start,
             par_len, class_rank, policy, horizon, band_off, wait_edges,
             exit_time, exit_code, stage_h,
             entries, completions, exits, exits_late, waiting, in_stage, work_hours,
             started, wait_sum, wait_hist, record, fs, ints, ordk, qk1, qk2, qsq, qc, heap):
    """Simulate one path; fill the output slices; return (visits, records[n_rec, 6]).

    Record columns: stage, case, arrive, start (of service), end (of the stage), served (work
    done: frees the server; equal to start for a pure delay).

    ``fs, ints, ordk, qk1, qk2, qsq, qc, heap`` are scratch buffers from :func:`scratch` for at
    least this path's number of cases; reusing them across paths avoids fresh memory (page
    faults cost as much as the simulation of a small path).
    """
    n = t_in.shape[0]
    n_stages = pool_of.shape[0]
    n_pools = policy.shape[0]
    n_weeks = entries.shape[1]
    n_bands = band_off.shape[0] + 1
    n_days = servers.shape[1]

    # Work on a time-sorted copy so that per-case state is read almost sequentially; random
    # streams and outputs use the caller's case index ``order[c]``.
    is_sorted = True
    for c in range(1, n):
        if t_in[c] < t_in[c - 1]:
            is_sorted = False
            break
    order = ordk[0, :n]
    if is_sorted:
        for c in range(n):
            order[c] = c
    else:
        time_order(t_in, order, ordk[1, :n])
    cf = fs[:n]
    ci = ints[:n]
    qn = np.zeros(n_pools, np.int64)
    busy = np.zeros(n_pools, np.int64)
    tick_at = np.full(n_pools, -1.0)
    tick_next = np.full(n_pools, -1, np.int64)
    srun = _speed_runs(speed)
    smax = np.zeros((n_pools, n_days + 1), np.int64)
    for q in range(n_pools):
        for d in range(n_days - 1, -1, -1):
            smax[q, d] = max(smax[q, d + 1], servers[q, d])
    # FIFO pools: a linked list per priority level instead of a heap (same order, O(1)).
    lvl, n_lv = fifo_levels(pool_of, prio, class_rank)
    max_lv = 1
    for q in range(n_pools):
        max_lv = max(max_lv, n_lv[q])
    f_head = np.full((n_pools, max_lv), -1, np.int64)
    f_tail = np.full((n_pools, max_lv), -1, np.int64)
    wdiff = np.zeros((n_stages, n_weeks + 1), np.int64)
    idiff = np.zeros((n_stages, n_bands, n_weeks + 1), np.int64)
    # Pending events live in a calendar of time buckets (see _event_loop).
    inv_w = min(max(n / horizon, 1.0), 64.0)
    if horizon * inv_w > 4.0 * n + 4096.0:
        inv_w = (4.0 * n + 4096.0) / horizon
    n_bk = int(horizon * inv_w) + 2
    bh = np.empty(n_bk, np.int64)
    rec = np.empty((4 * n + 4 if record else 1, 6), np.float64)
    attempt = 0
    while True:
        if attempt > 0:
            # The record buffer overflowed (a network with loops): run the path again from
            # the start (same draws, so the same events) with a bigger buffer.
            rec = np.empty((2 * rec.shape[0], 6), np.float64)
            qn[:] = 0
            busy[:] = 0
            tick_at[:] = -1.0
            f_head[:] = -1
            f_tail[:] = -1
            wdiff[:] = 0
            idiff[:] = 0
            entries[:] = 0
            completions[:] = 0
            exits[:] = 0
            exits_late[:] = 0
            work_hours[:] = 0.0
            started[:] = 0
            wait_sum[:] = 0.0
            wait_hist[:] = 0
        attempt += 1
        for c in range(n):
            o = order[c]
            cf[c, _T_ARR] = t_in[o]
            cf[c, _MULT] = mult_in[o]
            cf[c, _DL] = dl_in[o]
            ci[c, _STAGE0] = stage_in[o]
            ci[c, _CLS] = cls_in[o]
            ci[c, _PHASE] = 0
            ci[c, _HOP] = 0
            ci[c, _ORD] = o
        bh[:] = -1
        visits, nrec = _event_loop(
            key, servers, speed, pool_of, prio, r_cum, r_col, r_len, dkind, dp1, dp2, des, dln,
            emp, par_start, par_len, class_rank, policy, horizon, band_off, wait_edges,
            exit_time, exit_code, stage_h, entries, completions, exits, exits_late, waiting,
            in_stage, work_hours, started, wait_sum, wait_hist, record, cf, ci, tick_next, qk1,
            qk2, qsq, qc, heap, qn, busy, tick_at, smax, srun, lvl, n_lv, f_head, f_tail, wdiff, idiff, bh,
            inv_w, rec)
        if nrec >= 0:
            return visits, rec[:nrec]


@njit(cache=True, nogil=True, _nrt=False)  # type: ignore[call-overload]  # no NRT: see docstring
def _event_loop(key, servers, speed, pool_of, prio, r_cum, r_col, r_len, dkind, dp1, dp2, des,
                dln, emp, par_start, par_len, class_rank, policy, horizon, band_off, wait_edges,
                exit_time, exit_code, stage_h, entries, completions, exits, exits_late, waiting,
                in_stage, work_hours, started, wait_sum, wait_hist, record, cf, ci, tick_next, qk1,
                qk2, qsq, qc, heap, qn, busy, tick_at, smax, srun, lvl, n_lv, f_head, f_tail, wdiff,
                idiff, bh, inv_w, rec):
    """The event loop of one path; returns (visits, records written), or (visits, -1) when
    ``rec`` is too small.

    Compiled without numba's reference counting (``_nrt=False``): it allocates nothing, and
    every inlined helper that takes an array would otherwise pay an atomic increment and
    decrement of that array's count per call, on counts shared by the threads running other
    paths (the same capacity and network arrays).
    """
    n = cf.shape[0]
    n_stages = pool_of.shape[0]
    n_weeks = entries.shape[1]
    n_bands = band_off.shape[0] + 1
    n_cols = r_cum.shape[1]
    n_days = servers.shape[1]
    n_class_slots = class_rank.shape[1] + 1
    n_bk = bh.shape[0]
    nxt = ci[:, _NXT]
    seq = 0
    nrec = 0
    visits = 0
    hn = 0

    # Pending events live in a calendar of time buckets (an unsorted list each, linked through
    # the cases' rows, see _schedule) and only the current bucket's events are in the heap: the
    # heap stays a few events deep though hundreds are pending (e.g. advice delays). Bucket of
    # time t is int(t * inv_w), which never decreases with t, so the heap's head is still the
    # earliest event, ties broken as before. Events at or after the horizon are never processed.
    cur = 0
    far = 0

    ia = 0
    while True:
        t_a = math.inf
        if ia < n:
            t_a = cf[ia, _T_ARR]
            if t_a < 0.0:
                t_a = 0.0
        if hn == 0 and far > 0:
            ba = int(t_a * inv_w) if t_a < horizon else n_bk
            while hn == 0 and far > 0 and cur < ba:
                cur += 1
                node = bh[cur]
                bh[cur] = -1
                while node >= 0:
                    # The event's time and type from its case: work done at ``_SERVED`` while
                    # in service, the stage's end at ``_DEND`` while in a delay.
                    if node < n:
                        if ci[node, _PHASE] == _SERVICE:
                            hn = ev_push(heap, hn, cf[node, _SERVED], node * 4 + _WORK_DONE)
                        else:
                            hn = ev_push(heap, hn, cf[node, _DEND], node * 4 + _STAGE_END)
                        node = ci[node, _LNK]
                    else:
                        q = node - n
                        hn = ev_push(heap, hn, tick_at[q], q * 4 + _TICK)
                        node = tick_next[q]
                    far -= 1
        t_e = heap[0, 0] if hn > 0 else math.inf
        t = t_e if t_e <= t_a else t_a
        if not t < horizon:
            break

        w_t = _week(t, n_weeks)
        enter_case = -1
        enter_stage = -1
        end_case = -1
        disp0 = -1
        if t_e <= t_a:
            payload = int(heap[0, 1])
            hn = ev_pop(heap, hn)
            typ = payload & 3
            idx = payload >> 2
            if typ == _TICK:
                tick_at[idx] = -1.0
                disp0 = idx
            elif typ == _WORK_DONE:
                q = pool_of[ci[idx, _CUR]]
                busy[q] -= 1
                cf[idx, _SERVED] = t
                w = w_t
                if w >= 0:
                    work_hours[q, w] += cf[idx, _WORK]
                disp0 = q
                if cf[idx, _DEND] > t:
                    ci[idx, _PHASE] = _DELAY
                    hn, far = _schedule(heap, hn, far, cur, ci, tick_next, bh, inv_w, n,
                                        cf[idx, _DEND], idx * 4 + _STAGE_END, horizon)
                else:
                    end_case = idx
            else:
                end_case = idx
        else:
            enter_case = ia
            enter_stage = ci[enter_case, _STAGE0]
            ia += 1

        if end_case >= 0:
            c = end_case
            s = ci[c, _CUR]
            w = w_t
            if w >= 0:
                completions[s, w] += 1
            _add_banded(idiff, s, cf[c, _ENTRY], t, cf[c, _DL], band_off, n_weeks)
            visits += 1
            if record:
                if nrec >= rec.shape[0]:
                    return visits, -1
                rec[nrec, 0] = s
                rec[nrec, 1] = ci[c, _ORD]
                rec[nrec, 2] = cf[c, _ENTRY]
                rec[nrec, 3] = cf[c, _START]
                rec[nrec, 4] = t
                rec[nrec, 5] = cf[c, _SERVED]
                nrec += 1
            u = uniform_at(stream_at(np.uint64(ci[c, _BASE]), 0))
            col = n_cols - 1
            for j in range(r_len[s]):
                if u < r_cum[s, j]:
                    col = r_col[s, j]
                    break
            if col < n_stages:
                enter_case = c
                enter_stage = col
            else:
                e = col - n_stages
                ci[c, _PHASE] = _EXITED
                cf[c, _EXIT_T] = t
                ci[c, _EXIT_E] = e
                if w >= 0:
                    exits[e, w] += 1
                    if t > cf[c, _DL]:
                        exits_late[e, w] += 1

        disp1 = -1
        if enter_case >= 0:
            c = enter_case
            s = enter_stage
            h = ci[c, _HOP]
            ci[c, _HOP] = h + 1
            base = stream_base(key, ci[c, _ORD], h)
            ci[c, _BASE] = np.int64(base)
            ci[c, _CUR] = s
            cf[c, _ENTRY] = t
            w = w_t
            if w >= 0:
                entries[s, w] += 1
            de = t
            for j in range(par_len[s]):
                i = par_start[s] + j
                x = draw(dkind[i], dp1[i], dp2[i], des[i], dln[i], emp,
                         stream_at(base, 2 + j))
                if t + x > de:
                    de = t + x
            q = pool_of[s]
            if q < 0:
                x = draw(dkind[s], dp1[s], dp2[s], des[s], dln[s], emp,
                         stream_at(base, 1))
                if t + x > de:
                    de = t + x
                cf[c, _DEND] = de
                cf[c, _START] = t
                cf[c, _SERVED] = t
                ci[c, _PHASE] = _DELAY
                hn, far = _schedule(heap, hn, far, cur, ci, tick_next, bh, inv_w, n, de,
                                    c * 4 + _STAGE_END, horizon)
            else:
                cf[c, _WORK] = cf[c, _MULT] * draw(dkind[s], dp1[s], dp2[s], des[s], dln[s], emp,
                                         stream_at(base, 1))
                cf[c, _DEND] = de
                ci[c, _PHASE] = _WAITING
                pol = policy[q]
                if pol == 0:
                    fifo_push(f_head, f_tail, nxt, q, lvl[s, ci[c, _CLS]], c)
                else:
                    k1 = prio[s] * n_class_slots + class_rank[q, ci[c, _CLS]]
                    k2 = cf[c, _T_ARR] if pol == 1 else cf[c, _DL]
                    q_push(qk1, qk2, qsq, qc, q, qn[q], k1, k2, seq, c)
                qn[q] += 1
                seq += 1
                disp1 = q

        for k in range(2):
            q = disp0 if k == 0 else disp1
            if q < 0 or (k == 1 and disp1 == disp0):
                continue
            cap_q = _servers_on(servers, q, t)
            while qn[q] > 0 and busy[q] < cap_q:
                if policy[q] == 0:
                    c = fifo_pop(f_head, f_tail, nxt, q, n_lv[q])
                else:
                    c = q_pop(qk1, qk2, qsq, qc, q, qn[q])
                qn[q] -= 1
                busy[q] += 1
                cf[c, _START] = t
                ci[c, _PHASE] = _SERVICE
                s = ci[c, _CUR]
                _add_span(wdiff, s, cf[c, _ENTRY], t, n_weeks)
                w = w_t
                if w >= 0:
                    wt = t - cf[c, _ENTRY]
                    started[s, w] += 1
                    wait_sum[s, w] += wt
                    b = 0
                    while b < wait_edges.shape[0] and wt >= wait_edges[b]:
                        b += 1
                    wait_hist[s, w, b] += 1
                te = _finish_time(t, cf[c, _WORK], speed, srun, q)
                cf[c, _SERVED] = te  # read back when its bucket is drained
                hn, far = _schedule(heap, hn, far, cur, ci, tick_next, bh, inv_w, n, te,
                                    c * 4 + _WORK_DONE, horizon)
            if qn[q] > 0 and tick_at[q] < 0.0:
                # Blocked by the number of servers: look again tomorrow, unless no later day
                # has more servers than are busy now (then only a job finishing can help).
                d = int(math.floor(t)) + 1
                if d < horizon and d < n_days and smax[q, d] > busy[q]:
                    tick_at[q] = d
                    hn, far = _schedule(heap, hn, far, cur, ci, tick_next, bh, inv_w, n,
                                        float(d), q * 4 + _TICK, horizon)

    for c in range(n):
        ph = ci[c, _PHASE]
        o = ci[c, _ORD]
        if ph == 0:
            exit_time[o] = np.nan
            exit_code[o] = -2
            stage_h[o] = -1
            continue
        if ph == _EXITED:
            exit_time[o] = cf[c, _EXIT_T]
            exit_code[o] = ci[c, _EXIT_E]
            stage_h[o] = -1
            continue
        s = ci[c, _CUR]
        exit_time[o] = np.nan
        exit_code[o] = -1
        stage_h[o] = s
        _add_banded(idiff, s, cf[c, _ENTRY], math.inf, cf[c, _DL], band_off, n_weeks)
        if ph == _WAITING:
            _add_span(wdiff, s, cf[c, _ENTRY], math.inf, n_weeks)
        if record:
            if nrec >= rec.shape[0]:
                return visits, -1
            rec[nrec, 0] = s
            rec[nrec, 1] = ci[c, _ORD]
            rec[nrec, 2] = cf[c, _ENTRY]
            rec[nrec, 3] = np.nan if ph == _WAITING else cf[c, _START]
            rec[nrec, 4] = np.nan
            rec[nrec, 5] = cf[c, _SERVED] if ph == _DELAY else np.nan
            nrec += 1

    for s in range(n_stages):
        acc = 0
        for w in range(n_weeks):
            acc += wdiff[s, w]
            waiting[s, w] = acc
        for b in range(n_bands):
            acc = 0
            for w in range(n_weeks):
                acc += idiff[s, b, w]
                in_stage[s, b, w] = acc
    return visits, nrec


@njit(cache=True, inline="always")
def uniform_at(state):
    return uniform(state, 0)


@njit(cache=True, nogil=True)
def run_paths(first, last, keys, offsets, t_arr, stage0, cls, mult, dl, servers, speed,
              pool_of, prio, r_cum, r_col, r_len, dkind, dp1, dp2, des, dln, emp, par_start,
              par_len, class_rank, policy, horizon, band_off, wait_edges,
              exit_time, exit_code, stage_h,
              entries, completions, exits, exits_late, waiting, in_stage, work_hours,
              started, wait_sum, wait_hist, visits, fs, ints, ordk, qk1, qk2, qsq, qc, heap):
    """Run :func:`sim_path` for paths ``first .. last - 1``; outputs are written in place.

    ``fs .. heap`` are scratch buffers from :func:`scratch` for the biggest of these paths
    (the caller reuses them from call to call: fresh memory costs page faults). Releases the
    GIL, so blocks of paths run in parallel on Python threads.
    """
    n_cap = servers.shape[0]
    for p in range(first, last):
        a = offsets[p]
        b = offsets[p + 1]
        cp = p % n_cap
        v, _ = sim_path(keys[p], t_arr[a:b], stage0[a:b], cls[a:b], mult[a:b], dl[a:b],
                        servers[cp], speed[cp], pool_of, prio, r_cum, r_col, r_len, dkind, dp1,
                        dp2, des,
                        dln, emp, par_start, par_len, class_rank, policy, horizon, band_off,
                        wait_edges, exit_time[a:b], exit_code[a:b], stage_h[a:b], entries[p],
                        completions[p], exits[p], exits_late[p], waiting[p], in_stage[p],
                        work_hours[p], started[p], wait_sum[p], wait_hist[p], False, fs, ints,
                        ordk, qk1, qk2, qsq, qc, heap)
        visits[p] = v
