"""The README's Python example runs as written (with the test tokenizer's folder)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(llama_tokenizer_dir: Path, capsys) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert blocks, "README has no python example"
    code = blocks[0].replace("path/to/llama-2-tokenizer", str(llama_tokenizer_dir))
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    kept, enc, packed = scope["kept"], scope["enc"], scope["packed"]
    assert len(kept) == 1 and len(scope["dups"]) == 2  # the copy and the broken row
    assert "<EMAIL>" in kept[0]["messages"][1]["content"]
    assert enc[0]["input_ids"][0] == 1 and enc[0]["input_ids"][1] != 1  # one BOS
    assert sum(len(r) for r in packed["input_ids"]) == len(enc[0]["input_ids"])
    assert "Hi" in capsys.readouterr().out  # the mask viewer printed the row
