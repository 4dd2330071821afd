"""EHCP demand forecasting and capacity planning for the SEND services of English councils.

The public API is re-exported here; see ``__all__``.
"""

from __future__ import annotations

from forecasting.errors import EhcpError, EhcpWarning

__version__ = "0.1.0"

__all__ = ["EhcpError", "EhcpWarning", "__version__"]
