"""Work-content and delay distributions, and the counter-based random numbers the engine uses.

A :class:`Dist` is a small frozen description (kind, mean, coefficient of variation, or an
empirical sample). :func:`pack_dists` turns a sequence of them into flat arrays that the numba
kernel reads; :func:`draw` samples one value inside compiled code.

Random numbers are *counter based*: every draw is a pure function of (path key, case, hop,
purpose, index) hashed with SplitMix64, so a case's work content does not depend on the order in
which events happen to be processed. Two scenarios that differ only in capacity therefore see
the same arrivals, the same work per case and the same routing decisions (common random numbers).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from forecasting.errors import EhcpError

__all__ = [
    "DIST_KINDS",
    "Dist",
    "PackedDists",
    "case_draw",
    "case_uniform",
    "draw",
    "pack_dists",
    "path_keys",
]

#: Codes used inside the kernel, by name.
DIST_KINDS: dict[str, int] = {
    "fixed": 0,
    "exponential": 1,
    "gamma": 2,
    "lognormal": 3,
    "empirical": 4,
}


@dataclass(frozen=True)
class Dist:
    """A non-negative distribution of work (hours) or delay (days).

    Parameters
    ----------
    kind : {"fixed", "exponential", "gamma", "lognormal", "empirical"}
        The family. ``fixed`` always returns ``mean``; ``exponential`` ignores ``cv`` (it is 1);
        ``gamma`` and ``lognormal`` are parametrised by their mean and coefficient of variation;
        ``empirical`` resamples ``sample`` uniformly with replacement.
    mean : float
        The mean (ignored for ``empirical``).
    cv : float
        Coefficient of variation (standard deviation / mean), for ``gamma`` and ``lognormal``.
    sample : tuple of float
        The observed values for ``empirical`` (e.g. advice turnaround days from a case extract).
    name : str
        Where the distribution is used, for error messages (e.g. ``"stages.advice.work"``).

    Examples
    --------
    >>> Dist("gamma", mean=10.0, cv=0.5).variance
    25.0
    >>> Dist("empirical", sample=(1.0, 2.0, 6.0)).mean_value
    3.0
    """

    kind: str
    mean: float = 0.0
    cv: float = 1.0
    sample: tuple[float, ...] = field(default=())
    name: str = "distribution"

    def __post_init__(self) -> None:
        if self.kind not in DIST_KINDS:
            raise EhcpError(
                f"unknown distribution kind {self.kind!r}",
                field=self.name,
                fix=f"use one of {', '.join(DIST_KINDS)}",
            )
        if self.kind == "empirical":
            if len(self.sample) == 0:
                raise EhcpError("an empirical distribution needs at least one value",
                                field=self.name, fix="give the observed values in 'sample'")
            arr = np.asarray(self.sample, dtype=float)
            if not np.all(np.isfinite(arr)) or np.any(arr < 0):
                raise EhcpError("empirical values must be finite and non-negative",
                                field=self.name, fix="remove negative or missing values")
            object.__setattr__(self, "sample", tuple(float(x) for x in arr))
            return
        if not math.isfinite(self.mean) or self.mean < 0:
            raise EhcpError(f"mean must be a non-negative number, got {self.mean!r}",
                            field=self.name, fix="give a mean of 0 or more")
        if self.kind in ("gamma", "lognormal") and (not math.isfinite(self.cv) or self.cv < 0):
            raise EhcpError(f"cv must be a non-negative number, got {self.cv!r}",
                            field=self.name, fix="give a coefficient of variation of 0 or more")

    @property
    def mean_value(self) -> float:
        """The distribution's mean."""
        if self.kind == "empirical":
            return float(np.mean(self.sample))
        return float(self.mean)

    @property
    def variance(self) -> float:
        """The distribution's variance."""
        if self.kind == "fixed":
            return 0.0
        if self.kind == "exponential":
            return float(self.mean) ** 2
        if self.kind == "empirical":
            return float(np.var(self.sample))
        return (float(self.mean) * float(self.cv)) ** 2


@dataclass(frozen=True)
class PackedDists:
    """Flat arrays describing many :class:`Dist` objects, for the kernel.

    ``kind[i]``, ``p1[i]``, ``p2[i]`` are the code and two parameters of distribution ``i``
    (exponential: mean; gamma: shape, scale; lognormal: mu, sigma; fixed: value); an empirical
    distribution reads ``emp[emp_start[i] : emp_start[i] + emp_len[i]]``.
    """

    kind: np.ndarray
    p1: np.ndarray
    p2: np.ndarray
    emp_start: np.ndarray
    emp_len: np.ndarray
    emp: np.ndarray


# Below this coefficient of variation a distribution is treated as fixed (its shape parameter
# would overflow).
_TINY_CV = 1e-8


def pack_dists(dists: Sequence[Dist]) -> PackedDists:
    """Pack distributions into flat arrays for the kernel.

    Examples
    --------
    >>> p = pack_dists([Dist("exponential", 2.0), Dist("gamma", 4.0, 0.5)])
    >>> p.kind.tolist(), p.p1.tolist(), p.p2.tolist()
    ([1, 2], [2.0, 4.0], [0.0, 1.0])
    """
    n = len(dists)
    kind = np.zeros(n, np.int64)
    p1 = np.zeros(n, np.float64)
    p2 = np.zeros(n, np.float64)
    emp_start = np.zeros(n, np.int64)
    emp_len = np.zeros(n, np.int64)
    emp: list[float] = []
    for i, d in enumerate(dists):
        kind[i] = DIST_KINDS[d.kind]
        if d.kind in ("fixed", "exponential"):
            p1[i] = d.mean
        elif d.kind == "gamma":
            if d.cv < _TINY_CV or d.mean == 0:
                kind[i] = DIST_KINDS["fixed"]
                p1[i] = d.mean
            else:
                p1[i] = 1.0 / d.cv**2
                p2[i] = d.mean * d.cv**2
        elif d.kind == "lognormal":
            if d.cv < _TINY_CV or d.mean == 0:
                kind[i] = DIST_KINDS["fixed"]
                p1[i] = d.mean
            else:
                s2 = math.log1p(d.cv**2)
                p1[i] = math.log(d.mean) - s2 / 2.0
                p2[i] = math.sqrt(s2)
        else:
            emp_start[i] = len(emp)
            emp_len[i] = len(d.sample)
            emp.extend(d.sample)
    return PackedDists(kind, p1, p2, emp_start, emp_len, np.asarray(emp + [0.0], np.float64))


def path_keys(seed: int, first_path: int, n_paths: int) -> np.ndarray:
    """64-bit stream keys for paths ``first_path .. first_path + n_paths - 1`` of ``seed``.

    A path's key depends only on ``(seed, path)`` (``SeedSequence(seed).spawn``), so a run
    split into blocks of paths gives exactly the same result as one big run.

    Examples
    --------
    >>> bool((path_keys(1, 3, 2) == path_keys(1, 0, 5)[3:]).all())
    True
    """
    # Child i of SeedSequence(seed).spawn(...) is SeedSequence(seed, spawn_key=(i,)): build only
    # the block's children instead of spawning all those before it.
    children = [np.random.SeedSequence(seed, spawn_key=(i,))
                for i in range(first_path, first_path + n_paths)]
    return np.array([c.generate_state(1, np.uint64)[0] for c in children], dtype=np.uint64)


# --- compiled random numbers -------------------------------------------------------------------

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def mix(x: np.uint64) -> np.uint64:
    """SplitMix64 finaliser (Steele, Lea & Flood 2014)."""
    z = x + _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def stream(path_key: np.uint64, case: int, hop: int, purpose: int) -> np.uint64:
    """The state of one (case, hop, purpose) random stream of a path."""
    s = mix(path_key ^ (np.uint64(case) * _M1))
    s = mix(s ^ (np.uint64(hop) * _M2))
    return mix(s ^ np.uint64(purpose))


@njit(cache=True, inline="always")
def stream_base(path_key: np.uint64, case: int, hop: int) -> np.uint64:
    """What the streams of one (case, hop) share, so the engine hashes it once per stage visit.

    Examples
    --------
    >>> k = np.uint64(12345)
    >>> bool(stream(k, 7, 2, 1) == stream_at(stream_base(k, 7, 2), 1))
    True
    """
    return mix(mix(path_key ^ (np.uint64(case) * _M1)) ^ (np.uint64(hop) * _M2))


@njit(cache=True, inline="always")
def stream_at(base: np.uint64, purpose: int) -> np.uint64:
    """The stream of one purpose from :func:`stream_base`."""
    return mix(base ^ np.uint64(purpose))


@njit(cache=True, inline="always")
def uniform(state: np.uint64, k: int) -> float:
    """The ``k``-th uniform on the open interval (0, 1) of a stream."""
    z = mix(state + np.uint64(k) * _GOLDEN)
    return ((z >> _S11) + 0.5) * _INV53


def _ziggurat_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tables of the 256-layer ziggurat for the standard normal (Marsaglia & Tsang 2000).

    Layer ``i`` has right edge ``w[i] * 2**52``; a 52-bit integer below ``k[i]`` lands inside
    the density for sure; ``f[i]`` is the density at the layer's edge. Laid out as numpy's
    ``ziggurat_constants.h`` (same ``r`` and area ``v``), computed here rather than copied.
    """
    r, v = _ZIG_R, 4.92867323399e-3
    m = 2.0**52
    k = np.zeros(256, np.uint64)
    w = np.zeros(256, np.float64)
    f = np.zeros(256, np.float64)
    dn = tn = r
    q = v / math.exp(-0.5 * dn * dn)
    k[0] = np.uint64((dn / q) * m)
    k[1] = np.uint64(0)
    w[0] = q / m
    w[255] = dn / m
    f[0] = 1.0
    f[255] = math.exp(-0.5 * dn * dn)
    for i in range(254, 0, -1):
        dn = math.sqrt(-2.0 * math.log(v / dn + math.exp(-0.5 * dn * dn)))
        k[i + 1] = np.uint64((dn / tn) * m)
        tn = dn
        f[i] = math.exp(-0.5 * dn * dn)
        w[i] = dn / m
    return k, w, f


_ZIG_R = 3.6541528853610088
_ZIG_K, _ZIG_W, _ZIG_F = _ziggurat_tables()
_B8 = np.uint64(8)
_B9 = np.uint64(9)
_LOW8 = np.uint64(0xFF)
_ONE = np.uint64(1)
_LOW52 = np.uint64(0x000FFFFFFFFFFFFF)


@njit(cache=True, inline="always")
def _raw(state: np.uint64, k: int) -> np.uint64:
    return mix(state + np.uint64(k) * _GOLDEN)


@njit(cache=True, inline="always")
def _normal(state: np.uint64, k: int) -> tuple[float, int]:
    """A standard normal from counters ``k, k + 1, ...`` of a stream; returns it and the next
    unused counter. Ziggurat (exact): one 64-bit value and no ``log``/``cos`` 99% of the time,
    where Box-Muller spent a log, a square root and a cosine on every draw."""
    while True:
        z = _raw(state, k)
        k += 1
        i = int(z & _LOW8)
        rabs = (z >> _B9) & _LOW52
        x = float(rabs) * _ZIG_W[i]
        if (z >> _B8) & _ONE:
            x = -x
        if rabs < _ZIG_K[i]:
            return x, k
        if i == 0:
            # The tail beyond r (Marsaglia 1964).
            while True:
                xx = -math.log(uniform(state, k)) / _ZIG_R
                yy = -math.log(uniform(state, k + 1))
                k += 2
                if yy + yy > xx * xx:
                    return (-(_ZIG_R + xx) if (z >> _B8) & _ONE else _ZIG_R + xx), k
        else:
            u = uniform(state, k)
            k += 1
            if (_ZIG_F[i - 1] - _ZIG_F[i]) * u + _ZIG_F[i] < math.exp(-0.5 * x * x):
                return x, k


@njit(cache=True, inline="always")
def _gamma(state: np.uint64, shape: float) -> float:
    # Marsaglia & Tsang (2000) with their squeeze, which accepts ~98% without a log; shape < 1
    # boosted by U**(1/shape).
    boost = 1.0
    a = shape
    k = 0
    if a < 1.0:
        boost = uniform(state, 0) ** (1.0 / a)
        a += 1.0
        k = 1
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x, k = _normal(state, k)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = uniform(state, k)
        k += 1
        x2 = x * x
        if u < 1.0 - 0.0331 * x2 * x2:
            return d * v * boost
        if math.log(u) < 0.5 * x2 + d - d * v + d * math.log(v):
            return d * v * boost


@njit(cache=True, inline="always")
def draw(kind: int, p1: float, p2: float, emp_start: int, emp_len: int, emp: np.ndarray,
         state: np.uint64) -> float:
    """One draw from a packed distribution using the random stream ``state``."""
    if kind == 0:
        return p1
    if kind == 1:
        return -p1 * math.log(uniform(state, 0))
    if kind == 2:
        return p2 * _gamma(state, p1)
    if kind == 3:
        return math.exp(p1 + p2 * _normal(state, 0)[0])
    j = int(uniform(state, 0) * emp_len)
    if j >= emp_len:
        j = emp_len - 1
    return emp[emp_start + j]


@njit(cache=True)
def case_draw(kind: int, p1: float, p2: float, emp_start: int, emp_len: int, emp: np.ndarray,
              path_key: np.uint64, case: int, hop: int, purpose: int) -> float:
    """The engine's draw for (path key, case, hop, purpose); callable from Python."""
    return draw(kind, p1, p2, emp_start, emp_len, emp, stream(path_key, case, hop, purpose))


@njit(cache=True)
def case_uniform(path_key: np.uint64, case: int, hop: int, purpose: int) -> float:
    """The engine's routing uniform for (path key, case, hop, purpose); callable from Python."""
    return uniform(stream(path_key, case, hop, purpose), 0)
