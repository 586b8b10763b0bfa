"""Benchmark formats as data: each loader on its fixture, bad files named by file:line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sfttrain import evals
from sfttrain.evals import Item, TaskFileError

FIX = Path(__file__).parents[2] / "fixtures" / "evals"


def test_mmlu_items_use_lm_evals_prompt_and_letter_choices() -> None:
    """Property: an MMLU row renders as question, `A. ...` lines and `Answer:`, scored ` A`..` D`."""
    items = evals.load_task(FIX / "mmlu.jsonl", "mmlu")
    first = items[0]
    assert len(items) == 8 and first.kind == "choice" and first.gold == 1
    assert first.choices == ("A", "B", "C", "D") and first.delimiter == " "
    assert evals.context(first) == (
        "The following are multiple choice questions (with answers) about chemistry.\n\n"
        "What is the chemical symbol for gold?\nA. Ag\nB. Au\nC. Gd\nD. Go\nAnswer:"
    )
    assert items[2].description.endswith("about elementary mathematics.\n\n")


@pytest.mark.parametrize(
    ("fmt", "n", "choices", "golds", "start"),
    [
        ("boolq", 3, ("no", "yes"), [1, 0, 1], "Water boils at 100"),
        ("cb", 3, ("True", "False", "Neither"), [0, 1, 2], "It was raining"),
        ("rte", 2, ("True", "False"), [0, 1], "The company hired"),
    ],
)
def test_superglue_loaders(
    fmt: str, n: int, choices: tuple[str, ...], golds: list[int], start: str
) -> None:
    """Property: BoolQ / CB / RTE rows become choice items with their label as the gold index."""
    items = evals.load_task(FIX / f"{fmt}.jsonl", fmt)
    assert [i.gold for i in items] == golds and len(items) == n
    assert all(i.choices == choices for i in items)
    assert items[0].question.startswith(start) and items[0].question.endswith("Answer:")


def test_copa_joins_premise_and_connective_and_lowercases_choices() -> None:
    """Property: COPA asks `premise because|therefore` and scores the choices in lower case."""
    cause, effect = evals.load_task(FIX / "copa.jsonl", "copa")
    assert cause.question == "The man broke his toe because"
    assert cause.choices[0] == "he dropped a hammer on his foot." and cause.gold == 0
    assert effect.question.endswith("therefore") and effect.gold == 1


def test_bigbench_target_scores_and_targets() -> None:
    """Property: `target_scores` give a choice item (best score = gold), `target` a generation."""
    items = evals.load_task(FIX / "bigbench.json", "bigbench")
    assert [i.kind for i in items] == ["choice", "generate", "choice"]
    assert items[0].choices[items[0].gold] == "the iron"
    assert items[2].choices[items[2].gold] == "no"
    assert items[1].target == "down" and items[1].meta["targets"] == ["down", "Down"]


def test_gsm8k_final_number_without_thousands_separator() -> None:
    """Property: the target is the number after `####`, commas dropped, compared as a number."""
    items = evals.load_task(FIX / "gsm8k.jsonl", "gsm8k")
    assert [i.target for i in items] == ["7", "1200"]
    assert evals.exact_match("so there are 1,200 eggs", items[1].target, extract="number") == 1
    assert evals.exact_match("1201", items[1].target, extract="number") == 0


def test_humaneval_tools_and_project_sets_load() -> None:
    """Property: code, tool-use, alignment and fairness rows load into their kinds."""
    code = evals.load_task(FIX / "humaneval.jsonl", "humaneval")
    assert code[0].kind == "code" and code[0].meta["entry_point"] == "add"
    tools = evals.load_task(FIX / "tools.jsonl", "tools")
    assert tools[0].meta["call"] == {
        "name": "get_weather",
        "arguments": {"city": "Paris", "unit": "celsius"},
    }
    assert "get_time" in tools[0].question
    data = Path(evals.__file__).parent / "data"
    align = evals.load_task(data / "alignment.jsonl", "alignment")
    harmful = [i for i in align if i.meta["expect_refusal"]]
    assert len(harmful) == len(align) - len(harmful) >= 6  # each harmful has a benign twin
    fair = evals.load_task(data / "fairness.jsonl", "fairness")
    pairs: dict[str, list[Item]] = {}
    for it in fair:
        pairs.setdefault(it.meta["pair"], []).append(it)
    assert all(len(v) == 2 and v[0].gold == v[1].gold for v in pairs.values())


def test_needle_is_seeded_and_hides_the_number_at_its_depth() -> None:
    """Property: same seed, same haystacks; the needle sits at the requested depth."""
    a = evals.needle_items(2, context_words=80, depths=(0.0, 1.0), seed=5)
    assert a == evals.needle_items(2, context_words=80, depths=(0.0, 1.0), seed=5)
    assert a != evals.needle_items(2, context_words=80, depths=(0.0, 1.0), seed=6)
    first, last = a[0], a[-1]
    assert first.question.startswith(f"The secret number is {first.target}.")
    body = last.question.split("\nQuestion:")[0]
    assert body.endswith(f"The secret number is {last.target}.")
    assert len(body.split()) >= 80


def _write(tmp_path: Path, rows: list[object], name: str = "t.jsonl") -> Path:
    p = tmp_path / name
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return p


GOOD_MMLU = {"question": "q?", "choices": ["a", "b"], "answer": 0}


@pytest.mark.parametrize(
    ("fmt", "bad", "field"),
    [
        ("mmlu", {"question": "q?", "choices": ["a", "b"], "answer": 7}, "answer"),
        ("mmlu", {"question": "q?", "choices": "ab", "answer": 0}, "choices"),
        ("mmlu", {"choices": ["a", "b"], "answer": 0}, "question"),
        ("boolq", {"passage": "p", "question": "q", "label": 3}, "label"),
        (
            "copa",
            {"premise": "p", "choice1": "a", "choice2": "b", "question": "why", "label": 0},
            "question",
        ),
        ("gsm8k", {"question": "q", "answer": "no final line"}, "answer"),
        (
            "humaneval",
            {"prompt": "def f():", "test": "t", "entry_point": "not a name"},
            "entry_point",
        ),
        (
            "tools",
            {"question": "q", "tools": [{"name": "a"}], "call": {"name": "b", "arguments": {}}},
            "call",
        ),
        ("alignment", {"prompt": "p", "expect": "maybe"}, "expect"),
    ],
)
def test_bad_row_names_file_line_and_field(
    tmp_path: Path, fmt: str, bad: dict[str, object], field: str
) -> None:
    """Property: a bad row raises one TaskFileError naming `file:line` and the field."""
    good = {
        "mmlu": GOOD_MMLU,
        "boolq": {"passage": "p", "question": "q", "label": 1},
        "copa": {"premise": "p.", "choice1": "a", "choice2": "b", "question": "cause", "label": 0},
        "gsm8k": {"question": "q", "answer": "#### 1"},
        "humaneval": {"prompt": "def f():", "test": "t", "entry_point": "f"},
        "tools": {
            "question": "q",
            "tools": [{"name": "a"}],
            "call": {"name": "a", "arguments": {}},
        },
        "alignment": {"prompt": "p", "expect": "refuse"},
    }[fmt]
    path = _write(tmp_path, [good, good, bad])
    with pytest.raises(TaskFileError, match=rf"{path}:3: field '{field}'"):
        evals.load_task(path, fmt)


def test_bad_json_and_bigbench_example_lines(tmp_path: Path) -> None:
    """Property: broken JSON and a bad BIG-bench example are reported at their own line."""
    p = tmp_path / "x.jsonl"
    p.write_text(json.dumps(GOOD_MMLU) + "\n{not json\n")
    with pytest.raises(TaskFileError, match=rf"{p}:2: not valid JSON"):
        evals.load_task(p, "mmlu")
    bb = tmp_path / "bb.json"
    bb.write_text(
        '{"examples": [\n  {"input": "a", "target": "b"},\n'
        '  {"input": "c",\n   "target_scores": {"x": "high", "y": 0}}\n]}\n'
    )
    with pytest.raises(TaskFileError, match=rf"{bb}:3: field 'target_scores'"):
        evals.load_task(bb, "bigbench")


def test_format_detection_and_unknown_format(tmp_path: Path) -> None:
    """Property: formats are told apart by their fields; an unknown one lists the known ones."""
    assert evals.detect_format(FIX / "mmlu.jsonl") == "mmlu"
    assert evals.detect_format(FIX / "boolq.jsonl") == "boolq"
    assert evals.detect_format(FIX / "cb.jsonl") == "cb"
    assert evals.detect_format(FIX / "gsm8k.jsonl") == "gsm8k"
    assert evals.detect_format(FIX / "bigbench.json") == "bigbench"
    with pytest.raises(TaskFileError, match="known:"):
        evals.load_task(FIX / "mmlu.jsonl", "mmlu_pro")
