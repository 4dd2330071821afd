"""A queueing network of stages, resource pools and routing with named exits.

The EHCP statutory pipeline is one :class:`Network`; so are an M/M/c queue and a tandem of
exponential stages, which is how the engine is validated against theory and against SimPy.

Units: work content is in **hours** (served by a pool at ``speed`` hours per server-day); pure
delays and parallel delays are in **days**; simulated time is continuous, in days.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from forecasting.capacity.distributions import Dist, PackedDists, pack_dists
from forecasting.errors import EhcpError

__all__ = ["POLICIES", "Network", "Pool", "Stage"]

#: Queue disciplines inside a pool: first come first served at the stage, oldest case (by the
#: case's original arrival) first, earliest case deadline first.
POLICIES: dict[str, int] = {"fifo": 0, "oldest": 1, "edf": 2}

_PROB_TOL = 1e-9


@dataclass(frozen=True)
class Pool:
    """A resource pool (e.g. EPs, caseworkers).

    Parameters
    ----------
    name : str
        Name used by :class:`Stage` to refer to the pool.
    policy : {"fifo", "oldest", "edf"}
        Order of service among waiting jobs of the same priority: ``fifo`` by time of joining
        this queue, ``oldest`` by the case's original arrival time, ``edf`` by the case deadline.
    class_priority : tuple of int
        Case classes in the order they are served, e.g. ``(0, 1)`` serves class 0 (new
        assessments) before class 1 (reviews). Classes not listed come after, all equal.
        Empty: all classes equal.

    Examples
    --------
    >>> Pool("ep", policy="edf", class_priority=(0, 1)).class_rank(3)
    array([0, 1, 2])
    """

    name: str
    policy: str = "fifo"
    class_priority: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise EhcpError(f"unknown queue policy {self.policy!r}", field=f"pools.{self.name}.policy",
                            fix=f"use one of {', '.join(POLICIES)}")

    def class_rank(self, n_classes: int) -> np.ndarray:
        """Rank (0 = served first) of each case class ``0 .. n_classes - 1`` in this pool."""
        rank = np.full(n_classes, len(self.class_priority), dtype=np.int64)
        for r, c in enumerate(self.class_priority):
            if 0 <= c < n_classes:
                rank[c] = r
        return rank


@dataclass(frozen=True)
class Stage:
    """One step a case goes through.

    Parameters
    ----------
    name : str
        Unique stage name.
    pool : str or None
        The pool that does the work, or ``None`` for a pure delay (no resource used).
    work : Dist
        Work content per case in hours when ``pool`` is set (multiplied by the case's work
        multiplier); the delay in days when ``pool`` is ``None``.
    parallel : tuple of Dist
        Delays in days, started when the case enters the stage, that run alongside the work;
        the stage ends at ``max(work done, entry + each delay)``. This is how statutory EP advice
        runs alongside health and social-care advice.
    priority : int
        Lower is served first within the pool, before class priority and the pool policy.

    Examples
    --------
    >>> Stage("advice", pool="ep", work=Dist("gamma", 10.0, 0.5),
    ...       parallel=(Dist("fixed", 30.0),)).is_delay
    False
    """

    name: str
    pool: str | None
    work: Dist
    parallel: tuple[Dist, ...] = ()
    priority: int = 0

    @property
    def is_delay(self) -> bool:
        """True when the stage uses no resource."""
        return self.pool is None


@dataclass(frozen=True)
class Network:
    """Stages, pools and routing with named exits.

    Parameters
    ----------
    stages : tuple of Stage
    pools : tuple of Pool
    exits : tuple of str
        Names of the ways a case leaves (e.g. ``("refused", "not_issued", "issued")``).
    routing : array of shape (n_stages, n_stages + n_exits)
        ``routing[i, j]`` is the probability that a case finishing stage ``i`` goes next to
        stage ``j`` (``j < n_stages``) or leaves by exit ``j - n_stages``. Rows sum to 1.

    Raises
    ------
    EhcpError
        Unknown pool, duplicate names, probabilities outside [0, 1], rows not summing to 1, or a
        stage from which no exit can be reached (a routing loop with no way out).

    Examples
    --------
    M/M/2 with mean service 1 hour and one exit:

    >>> net = Network(stages=(Stage("serve", "servers", Dist("exponential", 1.0)),),
    ...               pools=(Pool("servers"),), exits=("done",), routing=[[0.0, 1.0]])
    >>> net.n_stages, net.n_pools, net.n_exits
    (1, 1, 1)
    """

    stages: tuple[Stage, ...]
    pools: tuple[Pool, ...]
    exits: tuple[str, ...]
    routing: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        object.__setattr__(self, "pools", tuple(self.pools))
        object.__setattr__(self, "exits", tuple(self.exits))
        r = np.array(self.routing, dtype=np.float64)
        r.setflags(write=False)
        object.__setattr__(self, "routing", r)
        _validate(self)

    @property
    def n_stages(self) -> int:
        return len(self.stages)

    @property
    def n_pools(self) -> int:
        return len(self.pools)

    @property
    def n_exits(self) -> int:
        return len(self.exits)

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)

    @property
    def pool_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.pools)

    def stage_index(self, name: str) -> int:
        """Index of the stage called ``name``."""
        try:
            return self.stage_names.index(name)
        except ValueError:
            raise EhcpError(f"unknown stage {name!r}", field="stages",
                            fix=f"use one of {', '.join(self.stage_names)}") from None

    def pool_of_stage(self) -> np.ndarray:
        """Pool index of each stage, -1 for a pure delay."""
        names = self.pool_names
        return np.array([-1 if s.pool is None else names.index(s.pool) for s in self.stages],
                        dtype=np.int64)

    def visit_ratios(self, entry: Sequence[float]) -> np.ndarray:
        """Expected visits to each stage per case entering with probabilities ``entry``.

        Solves ``v = entry + v P`` for the stage-to-stage block ``P`` of the routing matrix;
        used for offered load (``arrival rate x visits x mean work / capacity``).

        Examples
        --------
        >>> net = Network(stages=(Stage("a", None, Dist("fixed", 1.0)),), pools=(),
        ...               exits=("out",), routing=[[0.5, 0.5]])
        >>> net.visit_ratios([1.0]).tolist()
        [2.0]
        """
        p = self.routing[:, : self.n_stages]
        e = np.asarray(entry, dtype=np.float64)
        return np.linalg.solve((np.eye(self.n_stages) - p).T, e)

    def packed(self) -> tuple[PackedDists, np.ndarray, np.ndarray]:
        """Work and parallel-delay distributions packed for the kernel.

        Returns
        -------
        dists : PackedDists
            Index ``i`` is stage ``i``'s work distribution; parallel delays follow.
        par_start, par_len : arrays of int
            Stage ``i``'s parallel delays are ``dists[par_start[i] : par_start[i] + par_len[i]]``.
        """
        dists: list[Dist] = [s.work for s in self.stages]
        par_start = np.zeros(self.n_stages, np.int64)
        par_len = np.zeros(self.n_stages, np.int64)
        for i, s in enumerate(self.stages):
            par_start[i] = len(dists)
            par_len[i] = len(s.parallel)
            dists.extend(s.parallel)
        return pack_dists(dists), par_start, par_len


def _validate(net: Network) -> None:
    names = net.stage_names
    if len(names) == 0:
        raise EhcpError("the network has no stages", field="stages", fix="add at least one stage")
    for group, values in (("stages", names), ("pools", net.pool_names), ("exits", net.exits)):
        seen = set()
        for v in values:
            if v in seen:
                raise EhcpError(f"duplicate name {v!r}", field=group, fix="give each a unique name")
            seen.add(v)
    if net.n_exits == 0:
        raise EhcpError("the network has no exits", field="exits", fix="name at least one exit")
    pools = set(net.pool_names)
    for s in net.stages:
        if s.pool is not None and s.pool not in pools:
            raise EhcpError(f"stage {s.name!r} uses unknown pool {s.pool!r}",
                            field=f"stages.{s.name}.pool",
                            fix=f"use one of {', '.join(sorted(pools)) or '(no pools defined)'}")
    r = net.routing
    n, m = net.n_stages, net.n_stages + net.n_exits
    if r.shape != (n, m):
        raise EhcpError(f"routing has shape {r.shape}, expected ({n}, {m}): one row per stage, "
                        "one column per stage then per exit", field="routing",
                        fix="give one probability per next stage and per exit")
    for i, s in enumerate(net.stages):
        row = r[i]
        if not np.all(np.isfinite(row)) or np.any(row < 0) or np.any(row > 1):
            raise EhcpError(f"routing probabilities out of stage {s.name!r} must be in [0, 1]",
                            field=f"routing.{s.name}", fix="correct the probabilities")
        if abs(row.sum() - 1.0) > _PROB_TOL:
            raise EhcpError(f"routing probabilities out of stage {s.name!r} sum to "
                            f"{row.sum():.6g}, not 1", field=f"routing.{s.name}",
                            fix="make the probabilities to next stages and exits add up to 1")
    # A stage that cannot reach an exit traps cases forever (a routing loop with no way out).
    can_exit = r[:, n:].sum(axis=1) > 0
    changed = True
    while changed:
        changed = False
        for i in range(n):
            if not can_exit[i] and np.any((r[i, :n] > 0) & can_exit):
                can_exit[i] = True
                changed = True
    if not can_exit.all():
        bad = [names[i] for i in np.flatnonzero(~can_exit)]
        raise EhcpError(f"no exit can be reached from stage(s) {', '.join(map(repr, bad))}: "
                        "cases would loop forever", field=f"routing.{bad[0]}",
                        fix="route these stages, directly or indirectly, to an exit")
