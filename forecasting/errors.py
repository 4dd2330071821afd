"""The one exception type that a user can cause, and how it is worded.

Errors a planner can fix (a file, a row, a config field, an LA name, a date) are raised as
:class:`EhcpError`. The CLI prints them as one readable message, without a traceback, and
exits non-zero. Programming errors still raise the ordinary Python exceptions.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["EhcpError", "EhcpWarning"]


class EhcpError(Exception):
    """A problem with the user's input, worded so the user can fix it.

    Parameters
    ----------
    message : str
        What is wrong, in plain words.
    file : str or Path, optional
        The file the problem is in.
    row : int, optional
        The 1-based row (line) number in that file, counting the header as row 1.
    field : str, optional
        The column, config key (dotted path) or CLI option at fault.
    fix : str, optional
        What the user should do about it.

    Examples
    --------
    >>> err = EhcpError("expected a whole number, got 'abc'", file="requests.csv", row=12,
    ...                 field="requests_received", fix="correct the count or use 'x' for missing")
    >>> print(err)
    requests.csv, row 12, field 'requests_received': expected a whole number, got 'abc'. Fix: correct the count or use 'x' for missing.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        field: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.row = row
        self.field = field
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        text = (", ".join(where) + ": " if where else "") + self.message.rstrip(".") + "."
        if self.fix:
            text += f" Fix: {self.fix.rstrip('.')}."
        return text


class EhcpWarning(UserWarning):
    """A warning about the user's input or a result that needs care (e.g. load above 1)."""
