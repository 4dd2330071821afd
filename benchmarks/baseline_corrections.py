"""The simple baselines on new plans with and without the known-error corrections.

Issue 3 quotes the best simple baseline for new plans as MASE 4.23 (damped drift). This scores
naive, drift and damped drift over the bench's origins (2019-2023, horizons 1-3, every LA) twice:
on the panel as loaded (Leeds' published 2022 value of 6,078 corrected to 362) and with
``correct_known_errors=False``, to show which panel that figure came from.

Usage::

    python benchmarks/baseline_corrections.py
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting.backtest import evaluate, leaderboard
from forecasting.data import load_panel
from forecasting.forecast import cross_validation, la_history


def main() -> None:
    warnings.filterwarnings("ignore")
    for corrected in (True, False):
        hist = la_history(load_panel(correct_known_errors=corrected), "new_plans")
        cv = cross_validation(hist, h=3, cutoffs=[2019, 2020, 2021, 2022, 2023],
                              models=("damped_drift", "drift", "naive"), level=(80,))
        board = leaderboard(evaluate(cv, hist, level=(80,)))
        print(f"new plans, known errors corrected: {corrected} "
              f"({hist['unique_id'].nunique()} LAs)")
        print(board[["model", "mase", "smape"]].to_string(index=False))


if __name__ == "__main__":
    main()
