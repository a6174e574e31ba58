"""Deterministic ids and names (DESIGN.md, "Ids and names"), so reruns find their own outputs.

Every id is a readable stem plus, where content matters, a short hash of the canonical JSON of the
fully resolved content: equal inputs give equal ids in any process; any change gives a new id.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from autoslo.errors import InputError

SAFE_NAME = re.compile(r"^[A-Za-z0-9._=-]+$")
HASH_LENGTH = 8
MAX_NAME_LENGTH = 200


class _Dumpable(Protocol):
    def model_dump(self, *, mode: str) -> dict[str, Any]: ...


def check_name(name: str, what: str = "name", source: str | None = None) -> str:
    """Return `name` if it is safe as one path component, else raise naming the rule broken."""
    if not isinstance(name, str) or not name:
        raise InputError(f"{what} must be a non-empty string, got {name!r}", source=source)
    if "/" in name or "\\" in name:
        raise InputError(f"{what} must not contain '/', got {name!r}", source=source)
    if name in {".", ".."} or ".." in name:
        raise InputError(f"{what} must not contain '..', got {name!r}", source=source)
    if not SAFE_NAME.match(name):
        bad = sorted({c for c in name if not SAFE_NAME.match(c)})
        raise InputError(
            f"{what} may only use the characters [A-Za-z0-9._=-], got {name!r} "
            f"(bad: {''.join(bad)!r})",
            source=source,
        )
    if name.startswith("."):
        raise InputError(f"{what} must not start with '.', got {name!r}", source=source)
    if len(name) > MAX_NAME_LENGTH:
        raise InputError(
            f"{what} must be at most {MAX_NAME_LENGTH} characters, got {len(name)}", source=source
        )
    return name


def canonical_json(content: Any) -> str:
    """JSON with sorted keys and no whitespace: the one byte form that content is hashed in."""
    if hasattr(content, "model_dump"):
        content = content.model_dump(mode="json")
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot hash a value of type {type(value).__name__}: {value!r}")


def short_hash(content: Any, length: int = HASH_LENGTH) -> str:
    """A short, stable sha256 prefix of `content`'s canonical JSON."""
    return hashlib.sha256(canonical_json(content).encode("ascii")).hexdigest()[:length]


def _format_param(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def workload_id(name: str, parameters: Mapping[str, Any] | None = None) -> str:
    """The workload's name plus the parameters that shaped it, e.g. ``shop_date=2026-11-23``.

    Parameters are sorted by key. If a value is not file-system safe it is replaced by ``-`` and
    a short hash of all parameters is appended, so two different parameter sets never collide.
    """
    check_name(name, "workload name")
    if not parameters:
        return name
    parts = [name]
    changed = False
    for key in sorted(parameters):
        check_name(key, "workload parameter name")
        raw = _format_param(parameters[key])
        safe = re.sub(r"[^A-Za-z0-9.=-]", "-", raw).replace("..", "-")
        changed |= safe != raw
        parts.append(f"{key}={safe}")
    ident = "_".join(parts)
    if changed or len(ident) > MAX_NAME_LENGTH - HASH_LENGTH - 2:
        ident = f"{ident[: MAX_NAME_LENGTH - HASH_LENGTH - 2]}_h{short_hash(dict(parameters))}"
    return check_name(ident, "workload id")


def execution_config_id(name: str, resolved_config: _Dumpable | Mapping[str, Any]) -> str:
    """The config's name plus a short hash of its fully resolved content."""
    check_name(name, "execution config name")
    return check_name(f"{name}-{short_hash(resolved_config)}", "execution config id")


def tuner_run_name(
    stem: str,
    resolved_execution_config: _Dumpable | Mapping[str, Any],
    resolved_tuner_config: _Dumpable | Mapping[str, Any],
    parameters: Mapping[str, Any] | None = None,
) -> str:
    """TUNER_RUN_NAME: a readable stem plus a short hash of both resolved configs and the values."""
    check_name(stem, "tuner run stem")
    digest = short_hash(
        {
            "execution_config": resolved_execution_config,
            "tuner_config": resolved_tuner_config,
            "parameters": dict(parameters or {}),
        }
    )
    return check_name(f"{stem}-{digest}", "tuner run name")


_RUN_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%S"
_last_issued: datetime | None = None
_issue_lock = threading.Lock()


def format_run_timestamp(moment: datetime) -> str:
    """UTC, millisecond precision: ``20261122T101112345Z``."""
    if moment.tzinfo is None:
        raise InputError(f"run timestamps need a time zone, got naive {moment.isoformat()}")
    moment = moment.astimezone(UTC)
    return f"{moment.strftime(_RUN_TIMESTAMP_FORMAT)}{moment.microsecond // 1000:03d}Z"


def parse_run_timestamp(text: str) -> datetime:
    """Inverse of `format_run_timestamp`; raises InputError on anything else."""
    match = re.fullmatch(r"(\d{8}T\d{6})(\d{3})Z", text)
    if not match:
        raise InputError(f"run timestamp must look like 20261122T101112345Z, got {text!r}")
    try:
        base = datetime.strptime(match.group(1), _RUN_TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:  # the shape is right but the date or time is not a real one
        raise InputError(f"run timestamp must be a real UTC date and time (YYYYMMDDTHHMMSSmmmZ, "
                         f"e.g. 20261122T101112345Z), got {text!r}") from None
    return base + timedelta(milliseconds=int(match.group(2)))


def new_run_timestamp(now: datetime | None = None) -> str:
    """A fresh run timestamp, strictly later than any this process issued before.

    Uniqueness across processes is completed by `DataTree.create_run_dir`, which claims the
    folder with an exclusive mkdir and moves on by a millisecond when it is taken.
    """
    global _last_issued
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    with _issue_lock:
        if _last_issued is not None and moment <= _last_issued:
            moment = _last_issued + timedelta(milliseconds=1)
        _last_issued = moment
    return format_run_timestamp(moment)
