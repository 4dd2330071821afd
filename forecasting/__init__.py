"""EHCP demand forecasting and capacity planning for the SEND services of English councils.

The public API is re-exported here; see ``__all__``.
"""

from __future__ import annotations

from forecasting.complexity import effort_multiplier, project_mix, simulate_mix
from forecasting.errors import EhcpError, EhcpWarning
from forecasting.forecast import cross_validation, forecast, simulate
from forecasting.reconcile import build_hierarchy, choose_reconciliation, reconcile

__version__ = "0.1.0"

__all__ = [
    "EhcpError",
    "EhcpWarning",
    "__version__",
    "build_hierarchy",
    "choose_reconciliation",
    "cross_validation",
    "effort_multiplier",
    "forecast",
    "project_mix",
    "reconcile",
    "simulate",
    "simulate_mix",
]
