"""The examples in the preference area's docstrings run and print what they show."""

from __future__ import annotations

import doctest
import importlib
from typing import Any

import pytest

MODULES = ["_rows", "_encode", "_filter", "_collate"]


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


@pytest.mark.slow
def test_readme_preference_example_runs(llama_tokenizer_dir: Any, capsys: Any) -> None:
    """The README's preference example runs as written and prints the prompt it shows."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Preference data", 1)[1]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    scope: dict[str, Any] = {}
    exec(
        compile(
            code.replace("path/to/llama-2-tokenizer", str(llama_tokenizer_dir)), "README", "exec"
        ),
        scope,
    )
    assert scope["enc"]["drop_reason"] == [None]
    assert capsys.readouterr().out.strip() == "<s> [INST] Capital of Peru? [/INST]"
