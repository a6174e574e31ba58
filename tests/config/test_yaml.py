"""Placeholders, overrides and value parsing behave as documented."""

from __future__ import annotations

import pytest

from autoslo.config import apply_overrides, parse_overrides, parse_params, substitute
from autoslo.config._placeholders import find_placeholders
from autoslo.config._yaml import get_path, split_path
from autoslo.errors import InputError


def test_params_are_yaml_scalars() -> None:
    assert parse_params(["A=4", "B=4.5", "C=true", "D=text", "E=", "F=2026-11-23"]) == {
        "A": 4, "B": 4.5, "C": True, "D": "text", "E": None,
        "F": __import__("datetime").date(2026, 11, 23)}
    with pytest.raises(InputError, match="--param needs KEY=VALUE"):
        parse_params(["A"])
    with pytest.raises(InputError, match="--param A is given twice"):
        parse_params(["A=1", "A=2"])
    with pytest.raises(InputError, match="--param name must match"):
        parse_params(["1A=1"])


def test_whole_placeholder_keeps_the_type_and_partial_becomes_text() -> None:
    data = {"a": "${N}", "b": ["x-${N}-y", "${M}"], "c": {"d": "${N}"}}
    result = substitute(data, {"N": 4})
    assert result.data == {"a": 4, "b": ["x-4-y", "${M}"], "c": {"d": 4}}
    assert result.used == {"N"}
    assert result.unresolved == {("b", 1): ["M"]}
    assert find_placeholders(data) == {("a",): ["N"], ("b", 0): ["N"], ("b", 1): ["M"],
                                       ("c", "d"): ["N"]}


def test_overrides_set_nested_values_and_create_keys() -> None:
    data = {"pool": {"clusters": [{"rpu": 8}, {"rpu": 8}]}}
    result = apply_overrides(data, parse_overrides(["pool.clusters.1.rpu=16", "router.policy=x"]))
    assert result == {"pool": {"clusters": [{"rpu": 8}, {"rpu": 16}]}, "router": {"policy": "x"}}
    assert data["pool"]["clusters"][1]["rpu"] == 8, "the input is not modified"
    assert get_path(result, split_path("pool.clusters.1.rpu")) == 16
    with pytest.raises(KeyError, match=r"pool\.nodes"):
        get_path(result, split_path("pool.nodes"))


@pytest.mark.parametrize("bad", ["", "a..b", "a.", "a b", ".a"])
def test_bad_dotted_paths(bad: str) -> None:
    with pytest.raises(InputError, match="must be a dotted path"):
        split_path(bad)
