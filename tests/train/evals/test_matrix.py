"""The evaluation matrix: suites checked up front, two models evaluated, compared."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sfttrain.cli import main
from sfttrain.evals import Suite, SuiteError

FIX = Path(__file__).parents[2] / "fixtures" / "evals"
SUITE = {
    "seed": 0, "batch_size": 8, "max_new_tokens": 6, "bootstrap": 200, "contamination_ngram": 6,
    "tasks": [
        {"name": "mmlu", "format": "mmlu", "file": "mmlu.jsonl", "shots": 1,
         "robustness": ["casing", "choice_order"]},
        {"name": "gsm8k", "format": "gsm8k", "file": "gsm8k.jsonl", "limit": 1},
        {"name": "code", "format": "humaneval", "file": "humaneval.jsonl", "limit": 1,
         "max_new_tokens": 6},
        {"name": "tools", "format": "tools", "file": "tools.jsonl", "limit": 1},
        {"name": "alignment", "format": "alignment", "file": "builtin:alignment", "limit": 4},
        {"name": "fairness", "format": "fairness", "file": "builtin:fairness", "limit": 4},
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"batch_sise": 4}, "batch_sise: unknown key; did you mean 'batch_size'"),
        ({"bos": "yes"}, "bos: expected bool"),
        ({"tasks": []}, "tasks: give at least one task"),
        ({"tasks": [{"format": "mmlu", "file": "nope.jsonl"}]}, "tasks[0].file: no file"),
        ({"tasks": [{"format": "mmlux", "file": "mmlu.jsonl"}]}, "tasks[0].format: got 'mmlux'"),
        ({"tasks": [{"format": "mmlu", "file": "mmlu.jsonl", "robustness": ["emoji"]}]},
         "tasks[0].robustness: unknown ['emoji']"),
        ({"tasks": [{"format": "needle", "shots": -1}]}, "tasks[0].shots: out of range"),
    ],
)  # fmt: skip
def test_bad_suite_names_the_key(change: dict[str, Any], message: str) -> None:
    """Property: a bad suite raises before any model loads, naming the key."""
    with pytest.raises(SuiteError) as err:
        Suite.from_dict({**SUITE, **change}, base=FIX)
    assert message in str(err.value)


def test_write_lm_eval_tasks_cli(tmp_path: Path, capsys: Any) -> None:
    """Property: the CLI writes one YAML per task file and prints the task names."""
    assert main(["eval", "--write-lm-eval-tasks", str(tmp_path), "--tasks",
                 str(FIX / "gsm8k.jsonl"), f"cb={FIX / 'cb.jsonl'}"]) == 0  # fmt: skip
    assert capsys.readouterr().out.split() == ["sft_gsm8k", "sft_cb"]
    assert (tmp_path / "sft_gsm8k.yaml").read_text().count("generate_until") == 1
    assert main(["eval", "--write-lm-eval-tasks", str(tmp_path), "--tasks",
                 str(FIX / "humaneval.jsonl")]) == 2  # fmt: skip
    assert "no lm-eval task type" in capsys.readouterr().err


@pytest.mark.slow
def test_two_models_matrix_and_compare(
    tiny_model_dir: Path, sp_model_path: Path, tmp_path: Path, capsys: Any
) -> None:
    """Property: `sfttrain eval A B --suite` writes records for every dimension, flags the task
    found in the training data, and --compare prints a delta per shared metric."""
    import yaml

    from sfttrain import tiny_llama

    other = tiny_llama(tmp_path / "other", tokenizer_path=sp_model_path, seed=1)
    question = json.loads((FIX / "mmlu.jsonl").read_text().splitlines()[0])["question"]
    train = tmp_path / "train.jsonl"
    train.write_text(
        json.dumps({"messages": [{"role": "user", "content": f"Q: {question}"}]}) + "\n"
    )
    suite = tmp_path / "suite.yaml"
    tasks = [
        {**t, "file": str(FIX / t["file"])}
        if t["file"].endswith("l") and ":" not in t["file"]
        else t
        for t in SUITE["tasks"]
    ]
    suite.write_text(yaml.safe_dump({**SUITE, "tasks": tasks, "train_data": [str(train)]}))
    out = tmp_path / "m"
    assert (
        main(["eval", str(tiny_model_dir), str(other), "--suite", str(suite), "--out", str(out)])
        == 0
    )
    records = json.loads((out / "matrix.json").read_text())
    for r in records:
        assert {"model", "task", "metric", "value", "n", "ci_low", "ci_high"} <= set(r)
        assert r["ci_low"] <= r["value"] <= r["ci_high"] or r["metric"] == "ece"
    dims = {r["dimension"] for r in records}
    assert dims == {
        "accuracy",
        "calibration",
        "robustness",
        "fairness",
        "safety",
        "efficiency",
        "contamination",
    }
    by = {(r["model"], r["task"], r["metric"]): r for r in records}
    base = str(tiny_model_dir)
    assert by[(base, "mmlu", "overlap")]["value"] == 1 / 8
    assert (
        by[(base, "mmlu", "acc")]["flagged"] and not by[(base, "gsm8k", "exact_match")]["flagged"]
    )
    assert by[(base, "alignment", "refusal_rate")]["n"] == 2
    assert by[(base, "code", "pass@1")]["n"] == 1
    assert by[(base, "all", "tokens_per_s")]["value"] > 0
    md = (out / "matrix.md").read_text()
    assert "### robustness" in md and "mmlu acc:casing" in md and "*" in md
    assert (out / "heatmap.png").read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    # the same model twice: every delta is 0 with a zero-width interval
    one = [r for r in records if r["model"] == base]
    (tmp_path / "a.json").write_text(json.dumps(one))
    assert main(["eval", "--compare", str(tmp_path / "a.json"), str(tmp_path / "a.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["task", "metric", "a", "b", "delta"]
    mmlu = next(line for line in lines if line.split()[:2] == ["mmlu", "acc"])
    assert "+0  [+0, +0]" in mmlu


def test_shipped_example_suite_is_valid() -> None:
    """Property: examples/evals/suite.yaml loads: every file exists, every key is known."""
    path = Path(__file__).parents[3] / "examples" / "evals" / "suite.yaml"
    suite = Suite.load(path)
    assert {t.format for t in suite.tasks} >= {"mmlu", "gsm8k", "needle", "humaneval", "alignment"}
    assert all(t.items(suite.seed) for t in suite.tasks)
