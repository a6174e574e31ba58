"""The strict model base and the translation of pydantic errors into one-line rules.

Every config model forbids unknown keys, refuses type coercion (``"4"`` is not an int) and is
frozen. Range rules are plain validators so their messages read ``must be between 1 and 50, got
64`` instead of pydantic's wording.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any, Union

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError

Path_ = tuple[str | int, ...]


class RuleError(ValueError):
    """A cross-field rule broken inside a model; `field` is the sub-path the rule is about."""

    def __init__(self, field: str | tuple[str | int, ...], rule: str):
        super().__init__(rule)
        self.field: tuple[str | int, ...] = (field,) if isinstance(field, str) else tuple(field)
        self.rule = rule


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors, no coercion, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    def summary(self) -> str:
        """A one-line description of the validated file for the validate table (models override it)."""
        return type(self).__name__


# ---- range rules with readable messages ------------------------------------------------------

def between(low: float, high: float) -> Callable[[Any], Any]:
    """A validator requiring ``low <= value <= high``."""

    def check(value: Any) -> Any:
        if not low <= value <= high:
            raise ValueError(f"must be between {_fmt_num(low)} and {_fmt_num(high)}, got {value!r}")
        return value

    return check


def at_least(low: float) -> Callable[[Any], Any]:
    """A validator requiring ``value >= low``."""

    def check(value: Any) -> Any:
        if value < low:
            raise ValueError(f"must be >= {_fmt_num(low)}, got {value!r}")
        return value

    return check


def positive(value: Any) -> Any:
    """A validator requiring ``value > 0``."""
    if not value > 0:
        raise ValueError(f"must be > 0, got {value!r}")
    return value


def safe_name(value: str) -> str:
    """A validator: the value becomes a path component, so it must be a safe name."""
    from autoslo.errors import InputError
    from autoslo.ids import check_name

    try:
        return check_name(value, "name")
    except InputError as exc:
        raise ValueError(exc.rule) from None


def zoned(value: Any) -> Any:
    """A validator: timestamps must carry a time zone (naive ones are ambiguous)."""
    if value.tzinfo is None:
        raise ValueError(f"must carry a time zone (e.g. 2026-11-22T00:00:00Z), got "
                         f"{value.isoformat()}")
    return value


def iso_timestamp(value: Any) -> Any:
    """A before-validator: an ISO text timestamp (what ``yaml.safe_dump`` writes, quoted) becomes a
    datetime, so a quoted start reads like an unquoted one; other values pass through unchanged."""
    if not isinstance(value, str):
        return value
    try:
        return dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"must be a timestamp with a time zone (e.g. 2026-11-22T00:00:00Z), got "
                         f"{value!r}") from None


def iso_date(value: Any) -> Any:
    """A before-validator: an ISO text date (``'2026-11-23'``, as quoted by ``yaml.safe_dump``)
    becomes a date; other values pass through unchanged."""
    if not isinstance(value, str):
        return value
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"must be a date (YYYY-MM-DD), got {value!r}") from None


# a timestamp with a zone, written by YAML as a timestamp or as ISO text (quoted by safe_dump)
ZonedTimestamp = Annotated[dt.datetime, BeforeValidator(iso_timestamp), AfterValidator(zoned)]
# a date, written by YAML as a date or as ISO text
IsoDate = Annotated[dt.date, BeforeValidator(iso_date)]


def _fmt_num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# ---- error translation -----------------------------------------------------------------------

def format_path(path: Sequence[str | int]) -> str:
    """``('pool', 'clusters', 0, 'rpu')`` -> ``pool.clusters[0].rpu``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def show_value(value: Any, limit: int = 60) -> str:
    """A value as it appears in a message: strings quoted, long values cut."""
    text = repr(value) if isinstance(value, str) else _yamlish(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _yamlish(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping {" + ", ".join(str(k) for k in value) + "}"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    return str(value)


def data_path(raw: Any, loc: Sequence[str | int], names_key: bool = True) -> Path_:
    """Map a pydantic error location onto the path in the user's data.

    Pydantic inserts union tags and validator names into locations; those do not navigate
    the data, so they are dropped, except a last element that names a missing key
    (`names_key`, for "missing" errors).
    """
    path: list[str | int] = []
    node = raw
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        navigates = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node))
        if navigates:
            path.append(part)
            node = node[part]
        elif last and names_key and isinstance(part, str):
            path.append(part)
    return tuple(path)


def _value_at(raw: Any, path: Path_) -> Any:
    node = raw
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete classes an annotation may hold (through Annotated, Optional, unions)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [c for arg in typing.get_args(annotation) for c in _unwrap(arg)]
    return [annotation]


def _models_at(model: type[BaseModel], raw: Any, path: Path_) -> list[type[BaseModel]]:
    """The model classes that describe the mapping at `path` (for 'allowed keys' hints)."""
    candidates: list[Any] = [model]
    node = raw
    for part in path:
        next_candidates: list[Any] = []
        for cand in candidates:
            for cls in _unwrap(cand):
                origin = typing.get_origin(cls)
                if isinstance(part, int) and origin in (list, tuple, Sequence):
                    next_candidates.extend(_unwrap(typing.get_args(cls)[0]))
                elif isinstance(part, str) and origin is dict:
                    next_candidates.extend(_unwrap(typing.get_args(cls)[1]))
                elif isinstance(cls, type) and issubclass(cls, BaseModel) and part in cls.model_fields:
                    next_candidates.extend(_unwrap(cls.model_fields[part].annotation))
        node = node[part] if isinstance(node, (dict, list)) else None
        candidates = _narrow(next_candidates, node)
    return [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]


def _narrow(candidates: Iterable[Any], node: Any) -> list[Any]:
    """Among union members, keep those whose Literal tag fields match the data."""
    models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
    if len(models) <= 1 or not isinstance(node, dict):
        return list(candidates)
    tagged = []
    for cls in models:
        tags = {name: typing.get_args(field.annotation) for name, field in cls.model_fields.items()
                if typing.get_origin(field.annotation) is typing.Literal and name in node}
        if tags and all(node[name] in allowed for name, allowed in tags.items()):
            tagged.append(cls)
    if tagged:
        return tagged
    kept = [cls for cls in models if set(node) <= set(cls.model_fields)]
    return kept or models


def translate_errors(
    error: ValidationError, raw: Any, model: type[BaseModel]
) -> list[tuple[Path_, str]]:
    """Turn a pydantic ValidationError into (data path, rule) pairs, one per problem."""
    problems: list[tuple[Path_, str]] = []
    seen: set[tuple[Path_, str]] = set()
    for err in error.errors(include_url=False):
        path = data_path(raw, err["loc"], names_key=err["type"] == "missing")
        rule = _rule(err, raw, path, model)
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, RuleError):
            path = (*path, *cause.field)
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            key = str(err.get("ctx", {}).get("discriminator", "")).strip("'")
            if key and "(" not in key:
                path = (*path, key)
        item = (path, rule)
        if item not in seen:
            seen.add(item)
            problems.append(item)
    return problems


def _rule(err: Any, raw: Any, path: Path_, model: type[BaseModel]) -> str:
    kind = err["type"]
    ctx = err.get("ctx", {}) or {}
    value = err.get("input")
    got = f", got {show_value(value)}"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        parents = _models_at(model, raw, path[:-1])
        allowed = sorted({f for cls in parents for f in cls.model_fields})
        hint = f" (allowed here: {', '.join(allowed)})" if allowed else ""
        return f"unknown key{hint}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be an integer{got}"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"must be a finite number{got}"
    if kind in ("string_type", "string_sub_type"):
        return f"must be a string{got}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false{got}"
    if kind in ("list_type", "tuple_type"):
        return f"must be a list{got}"
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return f"must be a mapping of keys to values{got}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}{got}"
    if kind == "union_tag_invalid":
        return f"must be one of {ctx.get('expected_tags')}, got {show_value(ctx.get('tag'))}"
    if kind == "union_tag_not_found":
        return f"is required (it says which kind of entry this is){got}"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s), got {ctx.get('actual_length')}"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} item(s), got {ctx.get('actual_length')}"
    if kind in ("date_type", "date_parsing", "date_from_datetime_inexact"):
        return f"must be a date (YYYY-MM-DD){got}"
    if kind in ("datetime_type", "datetime_parsing", "datetime_from_date_parsing"):
        return f"must be a timestamp with a time zone (e.g. 2026-11-22T00:00:00Z){got}"
    if kind == "timezone_aware":
        return f"must carry a time zone (e.g. 2026-11-22T00:00:00Z){got}"
    if kind in ("value_error", "assertion_error"):
        message = str(ctx.get("error", err["msg"]))
        return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        ops = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=",
               "less_than": "<"}
        bound = next(iter(ctx.values()))
        return f"must be {ops[kind]} {bound}{got}"
    return f"{err['msg'][0].lower()}{err['msg'][1:]}{got}"
