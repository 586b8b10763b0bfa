"""Benchmark formats as data: one loader per format, all into :class:`Item`.

=============  ===========================================  ====================================
format         row fields (JSONL unless said)               item
=============  ===========================================  ====================================
mmlu           question, choices, answer (index, letter     choice; lm-eval's ``mmlu`` prompt,
               or text), subject                            choices scored as `` A`` .. `` D``
mc             question, choices, answer                    choice; ``Question: q\\nAnswer:``,
                                                            the choice texts scored
boolq          passage, question, label (bool or 0/1)       choice: no / yes
cb             premise, hypothesis, label 0/1/2             choice: True / False / Neither
rte            premise, hypothesis, label 0/1               choice: True / False
copa           premise, choice1, choice2, question           choice: the premise + because /
               (cause|effect), label 0/1                    therefore, then each choice
bigbench       one JSON document: ``examples`` with         choice (``target_scores``) or
               input + target_scores, or input + target     generate (``target``)
gsm8k          question, answer ending ``#### n``            generate, number extracted
qa             question, answer                             generate, exact match
humaneval      task_id, prompt, test, entry_point           code, run in the sandbox
tools          question, tools (list of schemas), call      tool: name and arguments equal
               ({name, arguments})
alignment      prompt, expect (refuse | answer), category   alignment
fairness       pair, group, question, choices, answer       choice, grouped by pair
=============  ===========================================  ====================================

>>> from pathlib import Path
>>> import tempfile
>>> p = Path(tempfile.mkdtemp()) / "g.jsonl"
>>> _ = p.write_text('{"question": "3 + 4?", "answer": "3 + 4 = 7.\\\\n#### 7"}\\n')
>>> [(i.kind, i.target, i.extract) for i in load_task(p, "gsm8k")]
[('generate', '7', 'number')]
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sfttrain.evals._items import LETTERS, Item, TaskFileError, Where, read_json_array, read_jsonl

Loader = Callable[[str, Where, Any, int], Item]


def _mmlu(task: str, w: Where, row: Any, i: int) -> Item:
    question = w.need(row, "question")
    options = w.strings(row, "choices", at_least=2)
    gold = _answer_index(w, row, options)
    subject = row.get("subject")
    about = f" about {subject.replace('_', ' ')}" if isinstance(subject, str) and subject else ""
    return Item(
        task, str(row.get("id", i)), "choice", question, options=options,
        choices=tuple(LETTERS[: len(options)]), gold=gold, style="mmlu",
        description=f"The following are multiple choice questions (with answers){about}.\n\n",
        meta={"subject": subject} if about else {},
    )  # fmt: skip


def _answer_index(w: Where, row: Any, choices: tuple[str, ...]) -> int:
    answer = w.need(row, "answer", (int, str))
    if isinstance(answer, int) and 0 <= answer < len(choices):
        return answer
    if isinstance(answer, str):
        if answer in choices:
            return choices.index(answer)
        letter = answer.strip().upper()
        if len(letter) == 1 and letter in LETTERS[: len(choices)]:
            return LETTERS.index(letter)
    raise w.error("answer", f"{answer!r} names none of the {len(choices)} choices")


def _mc(task: str, w: Where, row: Any, i: int) -> Item:
    question = w.need(row, "question")
    choices = w.strings(row, "choices", at_least=2)
    return Item(
        task, str(row.get("id", i)), "choice", f"Question: {question}\nAnswer:",
        choices=choices, gold=_answer_index(w, row, choices),
    )  # fmt: skip


def _label(w: Where, row: Any, n: int) -> int:
    label = w.need(row, "label", (int, bool))
    if not 0 <= int(label) < n:
        raise w.error("label", f"expected 0..{n - 1}, got {label!r}")
    return int(label)


def _boolq(task: str, w: Where, row: Any, i: int) -> Item:
    passage, question = w.need(row, "passage"), w.need(row, "question")
    return Item(
        task, str(row.get("idx", i)), "choice", f"{passage}\nQuestion: {question}?\nAnswer:",
        choices=("no", "yes"), gold=_label(w, row, 2),
    )  # fmt: skip


def _cb(task: str, w: Where, row: Any, i: int) -> Item:
    premise, hypothesis = w.need(row, "premise"), w.need(row, "hypothesis")
    text = f"{premise}\nQuestion: {hypothesis}. True, False, or Neither?\nAnswer:"
    return Item(
        task, str(row.get("idx", i)), "choice", text,
        choices=("True", "False", "Neither"), gold=_label(w, row, 3),
    )  # fmt: skip


def _rte(task: str, w: Where, row: Any, i: int) -> Item:
    premise, hypothesis = w.need(row, "premise"), w.need(row, "hypothesis")
    text = f"{premise}\nQuestion: {hypothesis} True or False?\nAnswer:"
    return Item(
        task, str(row.get("idx", i)), "choice", text,
        choices=("True", "False"), gold=_label(w, row, 2),
    )  # fmt: skip


def _copa(task: str, w: Where, row: Any, i: int) -> Item:
    premise = w.need(row, "premise").strip()
    how = w.need(row, "question")
    if how not in ("cause", "effect"):
        raise w.error("question", f"expected 'cause' or 'effect', got {how!r}")
    joined = premise[:-1] if premise.endswith(".") else premise
    choices = tuple(_lower_first(w.need(row, k)) for k in ("choice1", "choice2"))
    return Item(
        task, str(row.get("idx", i)), "choice",
        f"{joined} {'because' if how == 'cause' else 'therefore'}",
        choices=choices, gold=_label(w, row, 2),
    )  # fmt: skip


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _bigbench(task: str, w: Where, row: Any, i: int) -> Item:
    text = f"Q: {w.need(row, 'input')}\nA:"
    if "target_scores" in row:
        scores = w.need(row, "target_scores", dict)
        if len(scores) < 2 or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in scores.values()
        ):
            raise w.error("target_scores", "expected {choice: number} with 2+ choices")
        choices = tuple(str(k) for k in scores)
        best = max(scores.values())
        gold = next(j for j, v in enumerate(scores.values()) if v == best)
        return Item(task, str(i), "choice", text, choices=choices, gold=gold)
    target = w.need(row, "target", (str, list))
    targets = [target] if isinstance(target, str) else target
    if not targets or not all(isinstance(t, str) for t in targets):
        raise w.error("target", "expected a string or a list of strings")
    return Item(task, str(i), "generate", text, target=targets[0], meta={"targets": targets})


_FINAL = re.compile(r"####\s*(.+?)\s*$", re.S)


def _gsm8k(task: str, w: Where, row: Any, i: int) -> Item:
    question, answer = w.need(row, "question"), w.need(row, "answer")
    m = _FINAL.search(answer)
    if m is None:
        raise w.error("answer", "expected the final answer after '#### '")
    target = m.group(1).replace(",", "").strip()
    return Item(
        task, str(i), "generate", f"Question: {question}\nAnswer:", target=target,
        extract="number", meta={"solution": answer[: m.start()].strip()},
    )  # fmt: skip


def _qa(task: str, w: Where, row: Any, i: int) -> Item:
    question, answer = w.need(row, "question"), w.need(row, "answer", (str, int, float))
    return Item(task, str(row.get("id", i)), "generate", question, target=str(answer))


def _humaneval(task: str, w: Where, row: Any, i: int) -> Item:
    prompt, test = w.need(row, "prompt"), w.need(row, "test")
    entry = w.need(row, "entry_point")
    if not entry.isidentifier():
        raise w.error("entry_point", f"{entry!r} is not a Python name")
    return Item(
        task, str(row.get("task_id", i)), "code", prompt, extract="code",
        meta={"test": test, "entry_point": entry, "solution": row.get("canonical_solution")},
    )  # fmt: skip


def _tools(task: str, w: Where, row: Any, i: int) -> Item:
    question = w.need(row, "question")
    tools = w.need(row, "tools", list)
    if not tools or not all(isinstance(t, dict) and isinstance(t.get("name"), str) for t in tools):
        raise w.error("tools", "expected a list of tool schemas, each with a 'name'")
    call = w.need(row, "call", dict)
    if not isinstance(call.get("name"), str) or not isinstance(call.get("arguments"), dict):
        raise w.error("call", "expected {'name': str, 'arguments': {...}}")
    if call["name"] not in {t["name"] for t in tools}:
        raise w.error("call", f"names {call['name']!r}, which is not among the tools")
    text = (
        "You can call these tools:\n" + json.dumps(tools, sort_keys=True) + "\n"
        'Reply with one JSON object {"name": ..., "arguments": {...}} and nothing else.\n'
        f"Request: {question}"
    )
    return Item(
        task, str(row.get("id", i)), "tool", text, target=json.dumps(call, sort_keys=True),
        extract="tool", meta={"tools": tools, "call": call},
    )  # fmt: skip


def _alignment(task: str, w: Where, row: Any, i: int) -> Item:
    prompt, expect = w.need(row, "prompt"), w.need(row, "expect")
    if expect not in ("refuse", "answer"):
        raise w.error("expect", f"expected 'refuse' or 'answer', got {expect!r}")
    return Item(
        task, str(row.get("id", i)), "alignment", prompt, extract="refusal",
        meta={"expect_refusal": expect == "refuse", "category": row.get("category", "")},
    )  # fmt: skip


def _fairness(task: str, w: Where, row: Any, i: int) -> Item:
    base = _mc(task, w, row, i)
    pair, group = w.need(row, "pair", (str, int)), w.need(row, "group")
    return Item(
        task, str(row.get("id", i)), "choice", base.question, choices=base.choices,
        gold=base.gold, meta={"pair": str(pair), "group": group},
    )  # fmt: skip


LOADERS: dict[str, Loader] = {
    "mmlu": _mmlu, "mc": _mc, "boolq": _boolq, "cb": _cb, "rte": _rte, "copa": _copa,
    "bigbench": _bigbench, "gsm8k": _gsm8k, "qa": _qa, "humaneval": _humaneval,
    "tools": _tools, "alignment": _alignment, "fairness": _fairness,
}  # fmt: skip
FORMATS = (*LOADERS, "needle")


def load_task(path: str | Path, format: str, *, name: str | None = None) -> list[Item]:
    """Every item of a local task file; the first bad row raises :class:`TaskFileError`."""
    if format not in LOADERS:
        hint = " (needle items are generated: use needle_items)" if format == "needle" else ""
        raise TaskFileError(f"unknown task format {format!r}{hint}; known: {sorted(LOADERS)}")
    task = name or Path(path).stem
    rows: Iterator[tuple[Where, Any]] = (
        read_json_array(path, "examples") if format == "bigbench" else read_jsonl(path)
    )
    items = [LOADERS[format](task, w, row, i) for i, (w, row) in enumerate(rows)]
    if not items:
        raise TaskFileError(f"{path}:1: no rows")
    return items


def detect_format(path: str | Path) -> str:
    """Guess a task file's format from its fields (and, for cb / rte, from its name)."""
    p = Path(path)
    if p.suffix == ".json":
        return "bigbench"
    first = next(read_jsonl(p), None)
    keys = set(first[1]) if first and isinstance(first[1], dict) else set()
    stem = p.stem.lower()
    for fmt, needs in _SIGNATURES:
        if needs <= keys and (fmt not in ("cb", "rte") or fmt in stem):
            return fmt
    raise TaskFileError(f"{p}:1: cannot tell the format from the fields {sorted(keys)}")


_SIGNATURES: tuple[tuple[str, set[str]], ...] = (
    ("fairness", {"pair", "group", "question", "choices"}),
    ("mmlu", {"question", "choices", "answer", "subject"}),
    ("mc", {"question", "choices", "answer"}),
    ("boolq", {"passage", "question", "label"}),
    ("copa", {"premise", "choice1", "choice2"}),
    ("cb", {"premise", "hypothesis", "label"}),
    ("rte", {"premise", "hypothesis", "label"}),
    ("humaneval", {"prompt", "test", "entry_point"}),
    ("tools", {"question", "tools", "call"}),
    ("alignment", {"prompt", "expect"}),
    ("gsm8k", {"question", "answer"}),
)

_FILLER = (
    "The river bends past the old mill before it reaches the town.",
    "Farmers bring their apples to the market every Saturday morning.",
    "A light rain fell over the hills while the bells rang at noon.",
    "The library keeps its maps of the coast in a drawer by the window.",
    "Children played by the fountain as the shadows grew longer.",
    "The baker opened early and the smell of bread filled the street.",
)


def needle_items(
    n: int = 4,
    *,
    context_words: int = 200,
    depths: tuple[float, ...] = (0.0, 0.5, 1.0),
    seed: int = 0,
    task: str = "needle",
) -> list[Item]:
    """Needle-in-a-haystack questions: a secret number hidden at each depth in filler text.

    ``n`` items per depth; the haystack has about ``context_words`` words; the needle
    sits after the fraction ``depth`` of the filler sentences. Same seed, same items.

    >>> a = needle_items(1, context_words=40, depths=(0.5,), seed=3)
    >>> a == needle_items(1, context_words=40, depths=(0.5,), seed=3), a[0].target.isdigit()
    (True, True)
    """
    if n < 1 or context_words < 1 or not depths or not all(0 <= d <= 1 for d in depths):
        raise ValueError("needle_items: n and context_words >= 1, depths in [0, 1]")
    rng = random.Random(seed)
    items = []
    for depth in depths:
        for k in range(n):
            sentences: list[str] = []
            while sum(len(s.split()) for s in sentences) < context_words:
                sentences.append(rng.choice(_FILLER))
            secret = str(rng.randrange(1000, 10000))
            at = round(depth * len(sentences))
            sentences.insert(at, f"The secret number is {secret}.")
            text = " ".join(sentences) + "\nQuestion: What is the secret number?\nAnswer:"
            meta = {"depth": depth, "context_words": context_words}
            items.append(
                Item(
                    task,
                    f"{depth}-{k}",
                    "generate",
                    text,
                    target=secret,
                    extract="number",
                    meta=meta,
                )
            )
    return items


__all__ = ["FORMATS", "LOADERS", "TaskFileError", "detect_format", "load_task", "needle_items"]
