from __future__ import annotations

from forecasting.errors import EhcpError


def test_message_names_file_row_field_and_fix() -> None:
    err = EhcpError("negative count -3", file="a.csv", row=7, field="new_plans", fix="use 0 or x")
    assert str(err) == "a.csv, row 7, field 'new_plans': negative count -3. Fix: use 0 or x."
    assert (err.file, err.row, err.field) == ("a.csv", 7, "new_plans")


def test_message_without_location() -> None:
    assert str(EhcpError("no data.")) == "no data."
