"""``python -m forecasting.cli`` runs the ``ehcp`` command."""

import sys

from forecasting.cli import main

sys.exit(main())
