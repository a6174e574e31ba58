"""YAML in, plain data out: strict reading, ``--param`` values and ``--set`` overrides.

- A file must be a non-empty YAML mapping without duplicate keys.
- Overrides are dotted paths into the data (``pool.clusters.0.rpu=16``); numbers index lists.
- `--param` and `--set` values are parsed as YAML (``4`` is an int, ``true`` a bool).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from autoslo.errors import InputError

PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PATH_SEGMENT = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_.-]*|\d+)$")

DataPath = tuple[str | int, ...]


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice (PyYAML keeps the last)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml_text(text: str, source: str) -> dict[str, Any]:
    """Parse a config document; it must be a non-empty mapping."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(f"malformed YAML: {where}{problem}", source=source) from None
    except yaml.YAMLError as exc:
        raise InputError(f"malformed YAML: {exc}", source=source) from None
    if data is None:
        raise InputError("file is empty; it must hold a YAML mapping of keys to values",
                         source=source)
    if not isinstance(data, dict):
        raise InputError(
            f"must hold a YAML mapping of keys to values at the top level, got a "
            f"{type(data).__name__}", source=source)
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise InputError(f"top-level keys must be strings, got {bad[0]!r}", source=source)
    return data


def read_yaml(path: Path, source: str) -> dict[str, Any]:
    """Read and parse a config file, with clear errors for missing, unreadable or empty files."""
    if not path.exists():
        raise InputError("file does not exist", source=source)
    if path.is_dir():
        raise InputError("is a folder, expected a YAML file", source=source)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError("is not UTF-8 text", source=source) from None
    if not text.strip():
        raise InputError("file is empty; it must hold a YAML mapping of keys to values",
                         source=source)
    return parse_yaml_text(text, source)


# ---- parameter values and overrides ------------------------------------------------------------

def parse_value(text: str) -> Any:
    """Parse a command-line value as YAML (``4`` -> 4, ``true`` -> True, ``a`` -> 'a')."""
    try:
        return yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        return text


def parse_assignment(text: str, option: str) -> tuple[str, Any]:
    """Split ``KEY=VALUE`` (value parsed as YAML)."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise InputError(f"{option} needs KEY=VALUE, got {text!r}")
    return key, parse_value(value)


def parse_params(items: Iterable[str]) -> dict[str, Any]:
    """``--param NAME=VALUE`` items into a dict; names follow placeholder rules."""
    params: dict[str, Any] = {}
    for item in items:
        name, value = parse_assignment(item, "--param")
        if not PARAM_NAME.match(name):
            raise InputError(
                f"--param name must match [A-Za-z_][A-Za-z0-9_]*, got {name!r}")
        if name in params:
            raise InputError(f"--param {name} is given twice")
        params[name] = value
    return params


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``--set a.b.0.c=VALUE`` items into an ordered dict of path -> value."""
    overrides: dict[str, Any] = {}
    for item in items:
        path, value = parse_assignment(item, "--set")
        split_path(path)
        overrides[path] = value
    return overrides


def split_path(path: str) -> DataPath:
    """``pool.clusters.0.rpu`` -> ('pool', 'clusters', 0, 'rpu')."""
    parts = path.split(".")
    if not path or any(not PATH_SEGMENT.match(p) for p in parts):
        raise InputError(
            f"must be a dotted path like pool.clusters.0.rpu (keys and list indexes), got {path!r}")
    return tuple(int(p) if p.isdigit() else p for p in parts)


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `data` with each dotted path set; missing mapping keys are created."""
    result = copy.deepcopy(data)
    for dotted, value in overrides.items():
        parts = split_path(dotted)
        node: Any = result
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            where = ".".join(str(p) for p in parts[:depth]) or "the top level"
            if isinstance(part, int):
                if not isinstance(node, list):
                    raise InputError(f"--set {dotted}: {where} is not a list, cannot index [{part}]")
                if part >= len(node):
                    raise InputError(
                        f"--set {dotted}: index {part} is out of range ({where} has {len(node)} items)")
            elif not isinstance(node, dict):
                raise InputError(f"--set {dotted}: {where} is not a mapping, cannot set {part!r}")
            if last:
                node[part] = value
            else:
                if isinstance(node, dict) and part not in node:
                    node[part] = [] if isinstance(parts[depth + 1], int) else {}
                node = node[part]
    return result


def get_path(data: Any, path: DataPath) -> Any:
    """The value at a data path; raises KeyError naming the first step that does not exist."""
    node = data
    for depth, part in enumerate(path):
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            raise KeyError(".".join(str(p) for p in path[: depth + 1])) from None
    return node
