"""The examples in the preference area's docstrings run and print what they show."""

from __future__ import annotations

import doctest
import importlib
from typing import Any

import pytest

MODULES = ["_rows", "_encode"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name: str, llama_tokenizer: Any) -> None:
    """Every docstring example of the module passes (``getfixture`` gives the real tokenizer)."""
    module = importlib.import_module(f"sftdata.preference.{name}")
    fixtures = {"llama_tokenizer": llama_tokenizer}
    result = doctest.testmod(
        module,
        extraglobs={"getfixture": fixtures.__getitem__},
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert result.attempted > 0 and result.failed == 0
