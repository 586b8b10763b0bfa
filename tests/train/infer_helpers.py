"""Helpers of the inference tests: an exported tiny model that carries its template."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

#: Prompts of varied lengths (the OVERFIT_CHATS questions and a few more).
PROMPTS = [
    "What colour is the sky?",
    "Two plus two?",
    "Capital of France?",
    "Say hello.",
    "Opposite of hot?",
    "Name a fruit.",
    "Count to three, slowly, and then say the word done twice.",
    "hi",
]


def chats(prompts: list[str] = PROMPTS) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": p}] for p in prompts]


def trained_folder(model_dir: Path, out: Path, template: str = "llama2") -> Path:
    """A copy of ``model_dir`` recorded as trained with ``template`` (as train() records)."""
    import sftdata as sd
    from sfttrain._generate import save_template_name

    shutil.copytree(model_dir, out)
    save_template_name(out, template, sd.templates.get(template))
    return out


def exported(model_dir: Path, tmp: Any, template: str = "llama2", **kw: Any) -> Path:
    """``sfttrain export`` of the tiny model trained (nominally) with ``template``."""
    from sfttrain import export

    src = trained_folder(model_dir, Path(tmp.mktemp("trained")) / "final", template)
    return export(src, tmp.mktemp("export"), **kw)
