"""The ``ehcp`` command line: parse arguments, call the library, write outputs.

Each command group lives in its own module with a ``register(app)`` function. No logic lives
here; a user error (:class:`forecasting.errors.EhcpError`) is printed without a traceback and
the process exits with status 2.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

from forecasting.errors import EhcpError

app = typer.Typer(
    name="ehcp",
    help="EHC needs assessment demand forecasting and capacity planning.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """EHC needs assessment demand forecasting and capacity planning."""


@app.command()
def version() -> None:
    """Print the toolkit's version."""
    from forecasting import __version__

    print(f"ehcp {__version__}")


def _register_all() -> None:
    # Imported here, not at module level, so `ehcp --help` stays fast and a broken optional
    # command group cannot stop the others from loading.
    from forecasting.cli import batch, cases, data, forecast, run, simulate

    for module in (data, cases, forecast, simulate, run, batch):
        module.register(app)


_register_all()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return the exit status (0 ok, 1 usage error, 2 user-input error).

    Examples
    --------
    >>> main(["version"])  # doctest: +ELLIPSIS
    ehcp ...
    0
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        # Standalone mode lets typer print usage errors and --help itself; it ends with
        # SystemExit, which we turn into a return value so tests can call main() directly.
        app(args=args, prog_name="ehcp", standalone_mode=True)
    except EhcpError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
