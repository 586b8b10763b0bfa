"""Apply a text function to the ``text`` column or to every message's content.

Every text step (cleaning, safety, language id) works on two row shapes::

    text rows                         messages rows
    +---------------------------+     +--------------------------------------------+
    | text                      |     | messages                                   |
    +---------------------------+     +--------------------------------------------+
    | "Some  web page ..."      |     | [{"role": "user", "content": "Hi"},        |
    |                           |     |  {"role": "assistant", "content": "Hey"}]  |
    +---------------------------+     +--------------------------------------------+

This module is the one place that knows those shapes, so the steps only write a
``str -> str`` transform (:func:`map_texts`) or a ``str -> reason | None`` judge
(:func:`judge_texts`). Both skip rows that already carry a ``drop_reason`` and turn
bad rows into rejects instead of raising:

>>> map_texts({"text": ["a ", None]}, str.strip, step="demo")
{'text': ['a', None], 'drop_reason': [None, 'demo.bad_text']}
>>> batch = {"messages": [[{"role": "user", "content": " q "}]]}
>>> map_texts(batch, str.strip, step="demo")["messages"]
[[{'role': 'user', 'content': 'q'}]]

Other areas (``sd.safety``) import these helpers; they are stable.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, Literal

from sftdata._batch import batch_len, drop_reasons, map_kept
from sftdata._contract import DROP_REASON, MESSAGES, TEXT, Batch, RowError, SftDataError

Column = Literal["auto", "text", "messages"]


def pick_column(batch: Mapping[str, list[Any]], column: Column = "auto") -> str:
    """The column a text step works on: ``messages`` if present, else ``text``.

    Raises :class:`SftDataError` naming the columns found when neither exists.
    """
    if column != "auto":
        if column not in batch:
            raise SftDataError(f"batch has no {column!r} column; columns: {sorted(batch)}")
        return column
    for name in (MESSAGES, TEXT):
        if name in batch:
            return name
    raise SftDataError(f"a text step needs a 'text' or 'messages' column; got {sorted(batch)}")


def _check_text(value: Any, step: str) -> str:
    if not isinstance(value, str):
        raise RowError(f"{step}.bad_text", f"text must be str, got {type(value).__name__}")
    return value


def _check_messages(value: Any, step: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        raise RowError(
            f"{step}.bad_messages", f"messages must be a list, got {type(value).__name__}"
        )
    for i, m in enumerate(value):
        if not isinstance(m, Mapping) or not isinstance(m.get("content"), str):
            got = type(m.get("content")).__name__ if isinstance(m, Mapping) else type(m).__name__
            raise RowError(f"{step}.bad_content:{i}", f"message {i} content must be str, got {got}")
    return value


def row_texts(
    value: Any, column: str, *, step: str, roles: Collection[str] | None = None
) -> list[str]:
    """The texts of one row's ``column`` value: ``[text]`` or the selected contents.

    ``roles`` selects messages by role (``None`` = every message). Raises
    :class:`RowError` (``<step>.bad_text`` / ``bad_messages`` / ``bad_content:<i>``).

    >>> row_texts([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
    ...           "messages", step="demo", roles={"assistant"})
    ['a']
    """
    if column == TEXT:
        return [_check_text(value, step)]
    msgs = _check_messages(value, step)
    return [m["content"] for m in msgs if roles is None or m.get("role") in roles]


def map_texts(
    batch: Mapping[str, list[Any]],
    fn: Callable[[str], str],
    *,
    step: str,
    column: Column = "auto",
    roles: Collection[str] | None = None,
) -> Batch:
    """Apply ``fn`` to the text of every kept row (every message content, or ``roles``).

    ``fn`` may raise :class:`RowError` to reject the row. Messages keep their other
    keys; the input batch is not modified. See the module docstring for an example.
    """
    name = pick_column(batch, column)

    def on_text(value: Any) -> str:
        return fn(_check_text(value, step))

    def on_messages(value: Any) -> list[dict[str, Any]]:
        msgs = _check_messages(value, step)
        return [
            {**m, "content": fn(m["content"])}
            if roles is None or m.get("role") in roles
            # a copy, so the output never aliases the input
            else dict(m)
            for m in msgs
        ]

    return map_kept(batch, name, on_text if name == TEXT else on_messages)


def judge_texts(
    batch: Mapping[str, list[Any]],
    judge: Callable[[str, int], str | None],
    *,
    step: str,
    column: Column = "auto",
    roles: Collection[str] | None = None,
    joiner: str = "\n\n",
) -> Batch:
    """Write ``drop_reason = judge(text, row_index)`` for every kept row.

    A ``messages`` row is judged as the selected contents joined by ``joiner`` (a
    conversation with no selected message is judged as ``""``). ``judge`` returns
    ``None`` to keep the row. Columns other than ``drop_reason`` are untouched.

    >>> judge_texts({"text": ["ok", "x"]}, lambda t, i: None if len(t) > 1 else "demo.short",
    ...             step="demo")
    {'text': ['ok', 'x'], 'drop_reason': [None, 'demo.short']}
    """
    name = pick_column(batch, column)
    out: Batch = dict(batch)
    reasons = drop_reasons(batch)
    for i in range(batch_len(batch)):
        if reasons[i] is not None:
            continue
        try:
            text = joiner.join(row_texts(batch[name][i], name, step=step, roles=roles))
            reasons[i] = judge(text, i)
        except RowError as e:
            reasons[i] = e.reason
    out[DROP_REASON] = reasons
    return out


def step_features(input_features: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> Any:
    """``datasets.Features`` of a text step's output: the input, ``drop_reason`` and ``extra``.

    Text steps keep every input column and its type; pass the result as
    ``ds.map(step, batched=True, features=...)`` so that a first batch without any
    reject cannot type ``drop_reason`` as ``null``.

    >>> import datasets
    >>> step_features(datasets.Features({"text": datasets.Value("string")}))["drop_reason"]
    Value('string')
    """
    import datasets

    return datasets.Features(
        {**input_features, DROP_REASON: datasets.Value("string"), **(extra or {})}
    )
