"""Step names resolve to the areas' real steps; the docstring examples of this area run."""

from __future__ import annotations

import doctest
import importlib

import pytest

import sftdata as sd
from sftdata.runner import available_steps, resolve_step
from sftdata.runner._registry import UnknownStep

MODULES = [
    "sftdata.runner",
    "sftdata.runner._spec",
    "sftdata.runner._apply",
    "sftdata.runner._registry",
    "sftdata.tokenize",
    "sftdata.engines",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    """Every example in the module's docstrings gives the output it shows."""
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and (result.attempted > 0 or name == "sftdata.runner._registry")


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("parse.alpaca", sd.parse.Alpaca),
        ("parse.sharegpt", sd.parse.ShareGPT),
        ("parse.openai", sd.parse.OpenAI),
        ("clean.fix_text", sd.clean.FixText),
        ("clean.quality", sd.clean.QualityFilter),
        ("safety.pii", sd.safety.PIIFilter),
        ("dedup.minhash", sd.dedup.minhash_dedup),
        ("dedup.exact", sd.dedup.exact_dedup),
        ("encode", sd.Encode),
        ("pack", sd.pack),
    ],
)
def test_documented_names_resolve_to_the_area_objects(name: str, target: object) -> None:
    """The names used in pipeline specs resolve to the areas' public steps and passes."""
    info = resolve_step(name)
    assert info.target is target
    assert info.kind == ("global" if name in ("dedup.minhash", "dedup.exact", "pack") else "map")


def test_every_listed_step_resolves() -> None:
    """available_steps() only lists names that resolve_step accepts."""
    names = available_steps()
    assert "parse.alpaca" in names and "dedup.minhash" in names
    for name in names:
        assert resolve_step(name).name == name


def test_row_functions_are_not_steps() -> None:
    """A module attribute that is neither a step class nor a pass of ``ds`` is refused."""
    with pytest.raises(UnknownStep):
        resolve_step("sftdata.parse:alpaca")
