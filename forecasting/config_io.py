"""Safe YAML loading and pydantic validation that speak in :class:`EhcpError`.

Every config file in the toolkit goes through :func:`load_yaml` (``yaml.safe_load`` semantics,
but stricter: duplicate keys, tabs, Python object tags, empty and huge files are refused with
the file and line named) and then :func:`validate` (pydantic errors become one EhcpError naming
the dotted field path; an unknown key gets the closest valid key suggested).

Config models should be declared with :data:`STRICT` (``extra="forbid"``, ``frozen=True``).
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from forecasting.errors import EhcpError

__all__ = ["MAX_BYTES", "STRICT", "check_sections", "closest_key", "load_yaml", "loads_yaml",
           "validate"]

#: Largest config file accepted (a planner's config is a few KB; anything bigger is a mistake).
MAX_BYTES = 1_000_000

#: The model config every config model uses: unknown keys are errors, instances are immutable.
STRICT = ConfigDict(extra="forbid", frozen=True)

M = TypeVar("M", bound=BaseModel)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:
            raise EhcpError(
                "a mapping key must be a plain value, not a list or mapping",
                row=line,
            ) from None
        if key in seen:
            raise EhcpError(
                f"duplicate key '{key}' (first given on line {seen[key]})",
                row=line,
                field=str(key),
                fix="keep one of the two entries",
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,  # type: ignore[arg-type]
)


def _construct_timestamp(loader: _StrictLoader, node: yaml.ScalarNode) -> Any:
    # PyYAML builds dates itself and raises a bare ValueError for 2025-13-01 or 2024-02-30,
    # which knows neither the file nor the field. Keep such a value as text instead: the
    # config model then rejects it naming the field (e.g. ``simulation.start``).
    try:
        return loader.construct_yaml_timestamp(node)  # type: ignore[no-untyped-call]
    except (ValueError, OverflowError):
        return str(loader.construct_scalar(node))


_StrictLoader.add_constructor(
    "tag:yaml.org,2002:timestamp",
    _construct_timestamp,  # type: ignore[arg-type]
)


def _with_file(err: EhcpError, file: str) -> EhcpError:
    return EhcpError(err.message, file=file, row=err.row, field=err.field, fix=err.fix)


def loads_yaml(text: str, file: str | Path = "<string>") -> dict[str, Any]:
    """Parse YAML text strictly; see :func:`load_yaml`.

    Examples
    --------
    >>> loads_yaml("a: 1\\nb: [2, 3]\\n")
    {'a': 1, 'b': [2, 3]}
    >>> loads_yaml("a: 1\\na: 2\\n", "x.yaml")
    Traceback (most recent call last):
    ...
    forecasting.errors.EhcpError: x.yaml, row 2, field 'a': duplicate key 'a' (first given on line 1). Fix: keep one of the two entries.
    """
    name = str(file)
    if not text.strip() or all(
        not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()
    ):
        raise EhcpError("the file is empty", file=name, fix="write the config sections into it")
    for number, line in enumerate(text.splitlines(), start=1):
        if "\t" in line:
            raise EhcpError(
                "tab character (YAML indentation must use spaces)",
                file=name,
                row=number,
                fix="replace tabs with spaces",
            )
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except EhcpError as err:
        raise _with_file(err, name) from None
    except yaml.constructor.ConstructorError as err:
        mark = err.problem_mark
        raise EhcpError(
            f"tag not allowed in a config file ({err.problem})",
            file=name,
            row=None if mark is None else mark.line + 1,
            fix="remove '!!python/...' and other tags; write plain values",
        ) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise EhcpError(
            f"not valid YAML ({problem})",
            file=name,
            row=None if mark is None else mark.line + 1,
            fix="check the indentation and the ':' after each key",
        ) from None
    if data is None:
        raise EhcpError("the file is empty", file=name, fix="write the config sections into it")
    if not isinstance(data, dict):
        raise EhcpError(
            f"the top level must be a mapping of sections, got a {type(data).__name__}",
            file=name,
            row=1,
            fix="start the file with 'section:' lines",
        )
    return data


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file with ``yaml.safe_load`` semantics, but stricter.

    Refuses (with :class:`EhcpError` naming the file and line): duplicate keys, tab characters,
    Python object tags such as ``!!python/object``, empty files, files over :data:`MAX_BYTES`,
    and a top level that is not a mapping.

    Parameters
    ----------
    path : str or Path
        The YAML file.

    Returns
    -------
    dict
        The parsed mapping.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.yaml"
    >>> _ = p.write_text("simulation:\\n  years: 5\\n")
    >>> load_yaml(p)
    {'simulation': {'years': 5}}
    """
    p = Path(path)
    if not p.is_file():
        raise EhcpError("config file not found", file=p, fix="check the path")
    size = p.stat().st_size
    if size > MAX_BYTES:
        raise EhcpError(
            f"file is {size:,} bytes; a config may be at most {MAX_BYTES:,}",
            file=p,
            fix="point at the config YAML, not a data file",
        )
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise EhcpError(f"not UTF-8 text ({err.reason})", file=p, fix="save as UTF-8") from None
    return loads_yaml(text, p)


def closest_key(key: str, valid: typing.Iterable[str]) -> str | None:
    """The valid key closest to ``key`` (difflib), or None when nothing is close.

    Examples
    --------
    >>> closest_key("yeras", ["years", "seed", "n_paths"])
    'years'
    """
    matches = difflib.get_close_matches(str(key), list(valid), n=1, cutoff=0.5)
    return matches[0] if matches else None


def check_sections(data: typing.Mapping[Any, Any], known: typing.Sequence[str],
                   file: str | Path | None) -> None:
    """Refuse a top-level key that is not one of ``known``, suggesting the closest section.

    Examples
    --------
    >>> check_sections({"simulaton": {}}, ["simulation", "staff"], "leeds.yaml")
    Traceback (most recent call last):
    ...
    forecasting.errors.EhcpError: leeds.yaml, field 'simulaton': unknown section. Fix: did you mean 'simulation'? Valid sections: simulation, staff.
    """
    for key in data:
        if key not in known:
            guess = closest_key(str(key), known)
            raise EhcpError(
                "unknown section",
                file=file,
                field=str(key),
                fix=(f"did you mean '{guess}'? " if guess else "")
                + f"Valid sections: {', '.join(known)}",
            )


def _unwrap(tp: Any) -> list[Any]:
    """The concrete types inside Optional / Union / Annotated."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin is typing.Union or origin is types.UnionType:
        out: list[Any] = []
        for arg in typing.get_args(tp):
            out.extend(_unwrap(arg))
        return out
    return [tp]


def _model_at(model_cls: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """Follow a pydantic error location down the model's annotations to the enclosing model."""
    current: list[Any] = [model_cls]
    for part in loc:
        nxt: list[Any] = []
        for tp in current:
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                field = tp.model_fields.get(str(part))
                if field is None:
                    field = next(
                        (f for f in tp.model_fields.values() if f.alias == part), None
                    )
                if field is not None:
                    nxt.extend(_unwrap(field.annotation))
                continue
            origin = typing.get_origin(tp)
            args = typing.get_args(tp)
            if origin in (list, tuple, set, frozenset) and args:
                nxt.extend(_unwrap(args[0]))
            elif origin in (dict, Mapping) and len(args) == 2:
                nxt.extend(_unwrap(args[1]))
        # Union members that are models may be named as a loc element (tagged unions).
        current = nxt or [t for t in current if getattr(t, "__name__", None) == part]
        if not current:
            return None
    for tp in current:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return tp
    return None


#: Labels pydantic puts in an error location for the member of a union that failed
#: (``requests_per_year.float``); they are not keys a user wrote, so the path leaves them out.
_UNION_LABELS = frozenset({"float", "int", "str", "bool", "none"})


def _dotted(loc: tuple[Any, ...], prefix: str) -> str:
    text = prefix
    for part in loc:
        if isinstance(part, str) and (part in _UNION_LABELS or "[" in part):
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def validate(
    model_cls: type[M], data: Any, file: str | Path | None = None, *, prefix: str = ""
) -> M:
    """Validate ``data`` into ``model_cls``, turning pydantic errors into one EhcpError.

    The message names the dotted field path (``staff.ep.fte[0].fte``); an unknown key gets the
    closest valid key suggested.

    Parameters
    ----------
    model_cls : type of pydantic.BaseModel
        The model to build.
    data : Any
        The parsed YAML (usually a mapping).
    file : str or Path, optional
        The file the data came from, for the message.
    prefix : str
        Dotted path of ``data`` inside the file (e.g. ``"pipeline"``).

    Examples
    --------
    >>> from pydantic import BaseModel
    >>> class Sim(BaseModel):
    ...     model_config = STRICT
    ...     years: int = 5
    >>> validate(Sim, {"years": 3}).years
    3
    >>> validate(Sim, {"yeers": 3}, "c.yaml", prefix="simulation")
    Traceback (most recent call last):
    ...
    forecasting.errors.EhcpError: c.yaml, field 'simulation.yeers': unknown key. Fix: did you mean 'years'? Valid keys: years.
    """
    if data is None:
        data = {}
    try:
        return model_cls.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # Report one problem, with how many more there are: one clear fix at a time. An
        # unknown key comes first: a misspelt key also shows up as a missing required one.
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = tuple(first["loc"])
        field = _dotted(loc, prefix)
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        if first["type"] == "extra_forbidden":
            parent = _model_at(model_cls, loc[:-1])
            valid = sorted(parent.model_fields) if parent is not None else []
            guess = closest_key(str(loc[-1]), valid)
            fix = (f"did you mean '{guess}'? " if guess else "") + (
                f"Valid keys: {', '.join(valid)}" if valid else "remove it"
            )
            raise EhcpError(f"unknown key{more}", file=file, field=field, fix=fix) from None
        if first["type"] == "missing":
            raise EhcpError(
                f"required value missing{more}", file=file, field=field, fix="add it"
            ) from None
        given = first.get("input")
        shown = "" if isinstance(given, dict | list) else f" (got {given!r})"
        msg = str(first["msg"]).removeprefix("Value error, ")
        raise EhcpError(f"{msg}{shown}{more}", file=file, field=field) from None
