"""Strict YAML loading and pydantic validation turned into EhcpError (forecasting.config_io)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from forecasting.config_io import MAX_BYTES, STRICT, closest_key, load_yaml, loads_yaml, validate
from forecasting.errors import EhcpError


class Inner(BaseModel):
    model_config = STRICT
    fte: float = Field(ge=0)


class Outer(BaseModel):
    model_config = STRICT
    years: int = Field(default=5, ge=1, le=10)
    pools: dict[str, Inner] = {}
    changes: tuple[Inner, ...] = ()


@pytest.mark.parametrize(
    ("name", "row", "words"),
    [
        ("duplicate_key.yaml", 3, "duplicate key 'years'"),
        ("tabs.yaml", 2, "tab character"),
        ("python_tag.yaml", 1, "tag not allowed"),
        ("empty.yaml", None, "empty"),
    ],
)
def test_refused_yaml_names_file_and_line(fixtures_dir: Path, name: str, row: int | None,
                                          words: str) -> None:
    path = fixtures_dir / "capacity" / name
    with pytest.raises(EhcpError) as info:
        load_yaml(path)
    assert info.value.file == str(path)
    assert info.value.row == row
    assert words in str(info.value)


def test_python_tag_is_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "evil.yaml"
    path.write_text(f'a: !!python/object/apply:pathlib.Path.touch ["{marker}"]\n')
    with pytest.raises(EhcpError):
        load_yaml(path)
    assert not marker.exists()


def test_huge_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * (MAX_BYTES + 1) + "\n")
    with pytest.raises(EhcpError, match="at most"):
        load_yaml(path)


def test_comment_only_file_is_empty_and_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(EhcpError, match="empty"):
        loads_yaml("# nothing here\n\n", "c.yaml")
    with pytest.raises(EhcpError, match="not found"):
        load_yaml(tmp_path / "nope.yaml")


def test_top_level_must_be_mapping_and_syntax_errors_give_the_line() -> None:
    with pytest.raises(EhcpError, match="mapping"):
        loads_yaml("- 1\n- 2\n")
    with pytest.raises(EhcpError) as info:
        loads_yaml("a: 1\nb: [1, 2\n", "x.yaml")
    assert info.value.row is not None and info.value.row >= 2


def test_plain_values_parse_like_safe_load() -> None:
    data = loads_yaml("a: 2025-04-01\nb: {c: 1.5, d: [x, y]}\n")
    assert str(data["a"]) == "2025-04-01"
    assert data["b"] == {"c": 1.5, "d": ["x", "y"]}


def test_unknown_key_suggests_closest_valid_key_at_depth() -> None:
    with pytest.raises(EhcpError) as info:
        validate(Outer, {"pools": {"ep": {"fet": 1}}}, "c.yaml", prefix="staff")
    err = info.value
    assert err.field == "staff.pools.ep.fet"
    assert "did you mean 'fte'" in str(err)
    with pytest.raises(EhcpError) as info:
        validate(Outer, {"changes": [{"fte": 1}, {"ftee": 2}]})
    assert info.value.field == "changes[1].ftee"


def test_range_error_names_dotted_path_and_value() -> None:
    with pytest.raises(EhcpError) as info:
        validate(Outer, {"changes": [{"fte": -1}]}, "c.yaml")
    assert info.value.field == "changes[0].fte"
    assert "-1" in str(info.value) and "c.yaml" in str(info.value)


def test_valid_model_is_frozen() -> None:
    out = validate(Outer, {"years": 3})
    assert out.years == 3
    with pytest.raises(Exception, match="frozen"):
        out.years = 4  # type: ignore[misc]


def test_closest_key_none_when_far() -> None:
    assert closest_key("zzzz", ["years", "seed"]) is None


def test_impossible_calendar_dates_stay_text_for_the_model_to_name() -> None:
    # PyYAML's own date constructor raises a bare ValueError here, naming no file or field.
    data = loads_yaml("a: 2025-13-01\nb: 2024-02-30\nc: 2025-04-01\nd: 2025-04-01 25:00:00\n")
    assert data["a"] == "2025-13-01" and data["b"] == "2024-02-30"
    assert data["c"] == date(2025, 4, 1) and data["d"] == "2025-04-01 25:00:00"

    class When(BaseModel):
        model_config = STRICT
        start: date

    with pytest.raises(EhcpError) as info:
        validate(When, {"start": data["a"]}, "c.yaml", prefix="simulation")
    assert info.value.field == "simulation.start" and "2025-13-01" in str(info.value)


def test_union_member_labels_are_left_out_of_the_field_path() -> None:
    class Volumes(BaseModel):
        model_config = STRICT
        per_year: float | dict[int, float] = Field(default=1.0, allow_inf_nan=False)

    with pytest.raises(EhcpError) as info:
        validate(Volumes, {"per_year": float("nan")}, prefix="demand")
    assert info.value.field == "demand.per_year"
