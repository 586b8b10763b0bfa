"""The docstring examples of sfttrain run and show what they say."""

from __future__ import annotations

import contextlib
import doctest
import importlib
import importlib.util
import io

import pytest


@pytest.mark.parametrize("name", ["sfttrain", "sfttrain.config"])
def test_docstring_examples(name: str) -> None:
    """Property: every example in the module's docstrings gives the output it shows."""
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.slow
def test_tiny_llama_docstring_example() -> None:
    """Property: the tiny_llama example builds and saves a model folder."""
    module = importlib.import_module("sfttrain._model")
    if importlib.util.find_spec("deepspeed") is not None:
        # Where DeepSpeed is installed, transformers imports it while saving a model, and
        # its first import prints an accelerator warning to stdout, which the doctest
        # would read as the example's output: let that one-time line happen here.
        with contextlib.redirect_stdout(io.StringIO()):
            importlib.import_module("deepspeed.accelerator").get_accelerator()
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
