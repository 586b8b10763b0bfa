"""lm-evaluation-harness on local task files: task YAMLs written from our formats, and a runner.

lm-eval (``pip install 'sftdata[eval]'``) reads a task from a YAML whose dataset is a
local JSON-lines file, so nothing touches the hub::

    sfttrain eval --write-lm-eval-tasks tasks/ --tasks mmlu.jsonl boolq=yes_no.jsonl
    sfttrain eval runs/x/export --lm-eval sft_mmlu,sft_yes_no --include-path tasks/

Each task file becomes ``DIR/<task>.yaml`` (``dataset_path: json``, ``dataset_kwargs:
{data_files: {test: FILE}}``). An MMLU file whose rows all have four choices, an
integer answer and a subject is read as it is, with lm-eval's own ``mmlu`` prompt;
every other file is first written as ``DIR/<task>.jsonl`` with the prompt we render
(``query``), the choices and the gold index, so lm-eval scores the same text we do.
Code, tool-use and alignment items have no lm-eval counterpart and are refused.

BOS: lm-eval adds none unless ``add_bos_token=True``; :func:`run_lm_eval` passes ``bos``
through as that flag, and our scorer's ``bos`` means the same.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sfttrain.evals._formats import LOADERS, detect_format, load_task
from sfttrain.evals._items import Item, TaskFileError, render

_MMLU_TEXT = (
    "{{question.strip()}}\nA. {{choices[0]}}\nB. {{choices[1]}}\nC. {{choices[2]}}\n"
    "D. {{choices[3]}}\nAnswer:"
)
_MMLU_ABOUT = (
    "The following are multiple choice questions (with answers) about "
    "{{subject.replace('_', ' ')}}.\n\n"
)
_NUMBER = {
    "name": "number",
    "filter": [
        {"function": "regex", "regex_pattern": r"(-?[$0-9.,]{2,})|(-?[0-9]+)", "group_select": -1},
        {"function": "take_first"},
    ],
}


def parse_task_spec(spec: str) -> tuple[str, Path]:
    """``"FILE"`` (format guessed from its fields) or ``"FORMAT=FILE"`` -> ``(format, path)``."""
    head, sep, tail = spec.partition("=")
    if sep and head in LOADERS:
        return head, Path(tail)
    return detect_format(spec), Path(spec)


def task_name(path: str | Path) -> str:
    """The lm-eval task name written for a file: ``sft_<stem>`` in lowercase letters, digits, ``_``."""
    return "sft_" + re.sub(r"[^a-z0-9_]+", "_", Path(path).stem.lower())


def write_lm_eval_tasks(out_dir: str | Path, specs: Sequence[str]) -> list[str]:
    """Write one lm-eval task YAML per task file; returns the task names."""
    import yaml

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for spec in specs:
        fmt, path = parse_task_spec(spec)
        items = load_task(path, fmt)
        name = task_name(path)
        if fmt == "mmlu" and _mmlu_as_is(path):
            config = _mmlu_config(name, path)
        else:
            config = _normalised_config(name, items, out / f"{name}.jsonl", spec)
        (out / f"{name}.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        names.append(name)
    return names


def _mmlu_as_is(path: Path) -> bool:
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    return all(
        len(r["choices"]) == 4
        and isinstance(r["answer"], int)
        and isinstance(r.get("subject"), str)
        for r in rows
    )


def _base(name: str, data: Path) -> dict[str, Any]:
    return {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data.resolve())}},
        "test_split": "test",
        "fewshot_split": "test",
    }


def _mmlu_config(name: str, path: Path) -> dict[str, Any]:
    return {
        **_base(name, path),
        "output_type": "multiple_choice",
        "description": _MMLU_ABOUT,
        "doc_to_text": _MMLU_TEXT,
        "doc_to_choice": ["A", "B", "C", "D"],
        "doc_to_target": "answer",
        "metric_list": [_metric("acc"), _metric("acc_norm")],
    }


def _metric(name: str, **extra: Any) -> dict[str, Any]:
    return {"metric": name, "aggregation": "mean", "higher_is_better": True, **extra}


def _normalised_config(name: str, items: list[Item], data: Path, spec: str) -> dict[str, Any]:
    kinds = {i.kind for i in items}
    if not kinds <= {"choice", "generate"}:
        raise TaskFileError(f"{spec}: {sorted(kinds)} items have no lm-eval task type")
    with data.open("w", encoding="utf-8") as f:
        for it in items:
            row: dict[str, Any] = {"description": it.description, "query": render(it)}
            row["target"] = it.target
            row |= {"choices": list(it.choices), "gold": it.gold} if it.kind == "choice" else {}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    config = {**_base(name, data), "description": "{{description}}", "doc_to_text": "{{query}}"}
    if kinds == {"choice"}:
        delim = {i.delimiter for i in items}
        return config | {
            "output_type": "multiple_choice",
            "doc_to_choice": "{{choices}}",
            "doc_to_target": "{{gold}}",
            "target_delimiter": delim.pop() if len(delim) == 1 else " ",
            "metric_list": [_metric("acc"), _metric("acc_norm")],
        }
    if kinds != {"generate"}:
        raise TaskFileError(f"{spec}: mixes choice and generation items; split the file")
    config |= {
        "output_type": "generate_until",
        "doc_to_target": "{{target}}",
        "target_delimiter": " ",
        "generation_kwargs": {"until": ["\n\n"], "do_sample": False},
        "metric_list": [_metric("exact_match", ignore_case=True, ignore_punctuation=True)],
    }
    if any(i.extract == "number" for i in items):
        config["filter_list"] = [_NUMBER]
    return config


def _local_tasks(folder: str | Path) -> set[str]:
    """The ``task:`` names of the YAML files in ``folder``."""
    import yaml

    names = set()
    for p in Path(folder).glob("*.yaml"):
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            continue
        if isinstance(data, dict) and isinstance(data.get("task"), str):
            names.add(data["task"])
    return names


def run_lm_eval(
    model: Any,
    tasks: Sequence[str],
    *,
    tokenizer: Any = None,
    include_path: str | Path | None = None,
    batch_size: int = 8,
    bos: bool = False,
    limit: int | None = None,
    num_fewshot: int | None = None,
    local_only: bool | None = None,
) -> dict[str, dict[str, Any]]:
    """Run lm-eval on a model folder (``model`` a path) or an in-memory model + tokenizer.

    ``local_only``: index only ``include_path``, not lm-eval's own tasks (much faster);
    by default, when every task is named by a YAML there.
    Returns lm-eval's ``results`` block: ``{task: {"acc,none": ..., ...}}``.
    """
    try:
        import lm_eval
        from lm_eval.tasks import TaskManager
    except ImportError:
        raise TaskFileError("lm-eval is not installed: pip install 'sftdata[eval]'") from None
    # lm-eval's own task folder takes a minute to index: skip it when every task is local
    if local_only is None:
        local_only = include_path is not None and set(tasks) <= _local_tasks(include_path)
    manager = (
        TaskManager(include_path=str(include_path), include_defaults=not local_only)
        if include_path
        else TaskManager()
    )
    if isinstance(model, (str, Path)):
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        args = f"pretrained={model},dtype=float32,device={device}"
        args += ",add_bos_token=True" if bos else ""
        lm: Any = "hf"
        extra: dict[str, Any] = {"model_args": args}
    else:
        from lm_eval.models.huggingface import HFLM

        if tokenizer is None:
            raise TypeError("run_lm_eval: an in-memory model needs its tokenizer")
        lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size,
                  add_bos_token=True if bos else None)  # fmt: skip
        extra = {}
    out = lm_eval.simple_evaluate(
        model=lm, tasks=list(tasks), task_manager=manager, batch_size=batch_size,
        limit=limit, num_fewshot=num_fewshot, log_samples=False, **extra,
    )  # fmt: skip
    return dict(out["results"]) if out else {}
