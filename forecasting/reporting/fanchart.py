"""Fan charts of forecasts and a leaderboard plot of backtest scores (matplotlib Figures)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["plot_forecast", "plot_leaderboard"]


def plot_forecast(history: pd.DataFrame, fcst: pd.DataFrame, ax: Axes | None = None, *,
                  title: str | None = None, ylabel: str = "count") -> Figure:
    """History as a line, the forecast as a line with shaded 80% and 95% bands.

    Parameters
    ----------
    history : DataFrame
        ``ds, y`` (one series; ``unique_id`` ignored).
    fcst : DataFrame
        ``ds, yhat`` and any ``lo_<l>, hi_<l>`` pairs (wider levels shaded lighter).
    ax : Axes, optional
        Draw here; otherwise a new figure.

    Examples
    --------
    >>> hist = pd.DataFrame({"ds": [2022, 2023, 2024], "y": [10.0, 12.0, 13.0]})
    >>> fc = pd.DataFrame({"ds": [2025], "yhat": [14.0], "lo_80": [12.0], "hi_80": [16.0]})
    >>> fig = plot_forecast(hist, fc)
    >>> len(fig.axes[0].lines)
    2
    >>> plt.close(fig)
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 4.5))
    else:
        fig = ax.get_figure()  # type: ignore[assignment]
    levels = sorted((int(c[3:]) for c in fcst.columns if c.startswith("lo_")), reverse=True)
    last = history.sort_values("ds").iloc[-1:]
    for i, lv in enumerate(levels):
        ax.fill_between(fcst["ds"], fcst[f"lo_{lv}"], fcst[f"hi_{lv}"], color="tab:blue",
                        alpha=0.15 + 0.15 * i, linewidth=0, label=f"{lv}% interval")
    ax.plot(history["ds"], history["y"], color="black", marker="o", ms=3, label="history")
    ax.plot(pd.concat([last["ds"], fcst["ds"]]), pd.concat([last["y"], fcst["yhat"]]),
            color="tab:blue", marker="o", ms=3, linestyle="--", label="forecast")
    ax.set_ylim(bottom=0)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("year" if pd.api.types.is_integer_dtype(history["ds"]) else "month")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", frameon=False)
    return fig  # type: ignore[return-value]


def plot_leaderboard(board: pd.DataFrame, ax: Axes | None = None, *,
                     metrics: Sequence[str] = ("mase",), title: str | None = None) -> Figure:
    """Horizontal bars of backtest scores by model (best at the top).

    Examples
    --------
    >>> board = pd.DataFrame({"model": ["auto", "drift"], "mase": [1.8, 2.5]})
    >>> fig = plot_leaderboard(board)
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['drift', 'auto']
    >>> plt.close(fig)
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 0.35 * len(board) + 1.2))
    else:
        fig = ax.get_figure()  # type: ignore[assignment]
    data = board.sort_values(metrics[0], ascending=False)
    ax.barh(data["model"].astype(str), data[metrics[0]], color="tab:blue", alpha=0.7)
    ax.set_xlabel(metrics[0].upper())
    ax.axvline(1.0, color="grey", linewidth=0.8, linestyle=":")
    if title:
        ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig  # type: ignore[return-value]
