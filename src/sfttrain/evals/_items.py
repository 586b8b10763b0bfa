"""The one item shape every benchmark format loads into, and the errors of bad task files.

An :class:`Item` is one question. ``kind`` says how it is scored::

    kind        scored by                                   fields used
    choice      log-likelihood of each of ``choices``       question/options, choices, gold
    generate    exact match after normalisation (or the     question, target, extract
                number in the reply, ``extract="number"``)
    code        running ``prompt + completion + test``      question (the code prompt),
                in the sandbox; pass@k                      meta test / entry_point
    tool        the reply's JSON call equals the expected   question, meta tools / call
                name and arguments
    alignment   refusal expected (harmful) or an answer     question, meta expect_refusal
                expected (benign look-alike)

A prompt is rendered by :func:`render` (``style="mmlu"``: the question, lettered options
``A. ...`` and ``Answer:``; ``style="plain"``: the question as it is); the scored
continuation of choice ``j`` is ``delimiter + choices[j]`` (lm-eval's convention).

>>> it = Item(task="t", id="0", kind="choice", question="2+2?", options=("3", "4"),
...           choices=("A", "B"), gold=1, style="mmlu")
>>> print(render(it))
2+2?
A. 3
B. 4
Answer:
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sftdata import SftDataError

KINDS = ("choice", "generate", "code", "tool", "alignment")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class TaskFileError(SftDataError):
    """A task file is malformed: the message names ``file:line`` and the field."""


@dataclass(frozen=True)
class Item:
    """One benchmark question in the shared shape (see the module docstring)."""

    task: str
    id: str
    kind: str
    question: str
    options: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    gold: int = -1
    target: str = ""
    style: str = "plain"
    description: str = ""
    delimiter: str = " "
    extract: str = "text"
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def answer(self) -> str:
        """The reference text: the gold choice for a choice item, else ``target``."""
        return self.choices[self.gold] if self.kind == "choice" else self.target


def render(item: Item) -> str:
    """The prompt text of ``item`` alone (no description, no few-shot examples)."""
    if item.style == "mmlu":
        lines = [item.question.strip()]
        lines += [f"{LETTERS[i]}. {o}" for i, o in enumerate(item.options)]
        return "\n".join(lines) + "\nAnswer:"
    return item.question


def context(item: Item, shots: Sequence[Item] = ()) -> str:
    """Description, then each shot with its answer, then the item (lm-eval's layout).

    >>> a = Item(task="t", id="0", kind="generate", question="Q: 1+1?\\nA:", target="2")
    >>> context(a, [a])
    'Q: 1+1?\\nA: 2\\n\\nQ: 1+1?\\nA:'
    """
    parts = [render(s) + s.delimiter + s.answer for s in shots]
    return item.description + "".join(p + "\n\n" for p in parts) + render(item)


@dataclass(frozen=True)
class Where:
    """A place in a task file, for error messages: ``path:line``."""

    path: str
    line: int

    def error(self, name: str, problem: str) -> TaskFileError:
        return TaskFileError(f"{self.path}:{self.line}: field {name!r}: {problem}")

    def need(self, row: Any, name: str, kind: type | tuple[type, ...] = str) -> Any:
        """``row[name]``, checked to be of ``kind`` (and not empty when a str)."""
        if not isinstance(row, dict):
            raise TaskFileError(f"{self.path}:{self.line}: expected a JSON object per line")
        if name not in row:
            raise self.error(name, f"missing (the row has {sorted(row)})")
        value = row[name]
        if isinstance(value, bool) and kind is not bool and bool not in _tuple(kind):
            raise self.error(name, f"expected {_names(kind)}, got {value!r}")
        if not isinstance(value, kind):
            raise self.error(name, f"expected {_names(kind)}, got {type(value).__name__}")
        if isinstance(value, str) and not value.strip():
            raise self.error(name, "is empty")
        return value

    def strings(self, row: Any, name: str, *, at_least: int = 1) -> tuple[str, ...]:
        """``row[name]`` as a tuple of ``at_least``+ non-empty strings."""
        value = self.need(row, name, list)
        if len(value) < at_least or not all(isinstance(v, str) and v for v in value):
            raise self.error(name, f"expected a list of {at_least}+ non-empty strings")
        return tuple(value)


def _tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _names(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in _tuple(kind))


def read_jsonl(path: str | Path) -> Iterator[tuple[Where, Any]]:
    """``(where, row)`` for each non-blank line; a line that is not JSON raises at once."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no task file at {str(p)!r}")
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            where = Where(str(p), n)
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as e:
                raise TaskFileError(f"{p}:{n}: not valid JSON ({e.msg})") from None


def read_json_array(path: str | Path, key: str) -> Iterator[tuple[Where, Any]]:
    """``(where, element)`` of the array ``key`` of a JSON document, with each line number."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no task file at {str(p)!r}")
    text = p.read_text(encoding="utf-8")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise TaskFileError(f"{p}:{e.lineno}: not valid JSON ({e.msg})") from None
    top = Where(str(p), 1)
    if not isinstance(doc, dict) or not isinstance(doc.get(key), list) or not doc[key]:
        raise top.error(key, "expected a JSON object with a non-empty list here")
    decoder, pos = json.JSONDecoder(), text.index("[", text.index(f'"{key}"'))
    for element in doc[key]:
        pos += 1
        while text[pos] in " \t\r\n,":
            pos += 1
        _, end = decoder.raw_decode(text, pos)
        yield Where(str(p), text.count("\n", 0, pos) + 1), element
        pos = end - 1
