"""Read and rewrite the texts of a row: the ``text`` column or every message's content.

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

A *preference* batch (``prompt`` / ``chosen`` / ``rejected`` message columns, no
``text`` or ``messages``) is a third shape: a text step decorated with
:func:`over_preference_rows` reads all three columns of each row as one list of
messages (prompt, then chosen, then rejected) and writes each part back; with
``column="prompt"`` (or ``chosen`` / ``rejected``) it reads that one column:

>>> @over_preference_rows
... def upper(self, batch):
...     return map_texts(batch, str.upper, step="demo", column=self.column)
>>> class Step: column = "auto"
>>> out = upper(Step(), {"prompt": [[{"role": "user", "content": "q"}]],
...     "chosen": [[{"role": "assistant", "content": "a"}]], "rejected": [[]]})
>>> out["prompt"], out["chosen"], out["rejected"]
([[{'role': 'user', 'content': 'Q'}]], [[{'role': 'assistant', 'content': 'A'}]], [[]])

The reasons of a bad row come from ``step``: a step name gives
``<step>.bad_text`` / ``<step>.bad_messages`` / ``<step>.bad_content:<i>``; a
:class:`BadRow` spells the three codes out (``sd.safety`` uses ``safety.not_text`` /
``safety.not_messages`` / ``safety.bad_message:<i>``):

>>> judge_texts({"text": [1]}, lambda t, i: None, step=BadRow("x.no_text", "x.no_list", "x.no"))
{'text': [1], 'drop_reason': ['x.no_text']}
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Literal, NamedTuple, TypeVar

from sftdata._batch import batch_len, drop_reasons, map_kept
from sftdata._contract import DROP_REASON, MESSAGES, TEXT, Batch, RowError, SftDataError

Column = Literal["auto", "text", "messages", "prompt", "chosen", "rejected"]
#: The message columns of a preference row (see :mod:`sftdata.preference`).
PREFERENCE_COLUMNS: tuple[str, ...] = ("prompt", "chosen", "rejected")
#: Every column that holds a list of messages.
MESSAGE_COLUMNS: tuple[str, ...] = (MESSAGES, *PREFERENCE_COLUMNS)
COLUMNS: tuple[str, ...] = ("auto", TEXT, *MESSAGE_COLUMNS)


class BadRow(NamedTuple):
    """The reason codes of a row whose texts cannot be read.

    >>> BadRow.of("demo")
    BadRow(text='demo.bad_text', messages='demo.bad_messages', content='demo.bad_content')
    """

    text: str
    """The ``text`` value is not a ``str``."""
    messages: str
    """The ``messages`` value is not a list."""
    content: str
    """Message ``i`` has no ``str`` content; the reason is ``f"{content}:{i}"``."""

    @classmethod
    def of(cls, step: str | BadRow) -> BadRow:
        """``step`` itself, or the ``<step>.bad_*`` codes of a step name."""
        if isinstance(step, BadRow):
            return step
        return cls(f"{step}.bad_text", f"{step}.bad_messages", f"{step}.bad_content")


def check_column(column: str, *, what: str = "column") -> None:
    """Raise :class:`SftDataError` (naming ``what``) unless ``column`` is in :data:`COLUMNS`."""
    if column not in COLUMNS:
        raise SftDataError(f"{what} must be one of {'|'.join(COLUMNS)}, got {column!r}")


def is_preference_batch(batch: Mapping[str, Any]) -> bool:
    """``prompt``, ``chosen`` and ``rejected`` columns, and neither ``text`` nor ``messages``."""
    return all(c in batch for c in PREFERENCE_COLUMNS) and not (MESSAGES in batch or TEXT in batch)


def pick_column(batch: Mapping[str, Any], column: Column | str = "auto") -> str:
    """The column a text step works on: ``messages`` if present, else ``text``; in a
    preference batch, ``prompt`` (what identifies a pair: dedup reads it).

    Raises :class:`SftDataError` naming the columns found when the column is missing.

    >>> pick_column({"text": [], "messages": []})
    'messages'
    """
    if column != "auto":
        if column not in batch:
            raise SftDataError(f"batch has no {column!r} column; columns: {sorted(batch)}")
        return column
    for name in (MESSAGES, TEXT):
        if name in batch:
            return name
    if is_preference_batch(batch):
        return PREFERENCE_COLUMNS[0]
    raise SftDataError(
        "a text step needs a 'text' or 'messages' column (or a preference row's 'prompt', "
        f"'chosen', 'rejected'); got {sorted(batch)}"
    )


_Step = TypeVar("_Step")


def over_preference_rows(call: Callable[[_Step, Batch], Batch]) -> Callable[[_Step, Batch], Batch]:
    """Decorate a text step's ``__call__`` so that, with ``column="auto"``, it reads a
    preference batch as one ``messages`` list per row (prompt + chosen + rejected) and
    writes the three parts back; any other batch goes to ``call`` unchanged. Message
    indices the step reports (PII spans) count through that joined list."""

    @functools.wraps(call)
    def wrapper(self: _Step, batch: Batch) -> Batch:
        if getattr(self, "column", "auto") != "auto" or not is_preference_batch(batch):
            return call(self, batch)
        return _on_joined(batch, lambda joined: call(self, joined))

    return wrapper


def _on_joined(batch: Batch, run: Callable[[Batch], Batch]) -> Batch:
    joined: list[Any] = []
    sizes: list[tuple[int, int] | None] = []
    for parts in zip(*(batch[c] for c in PREFERENCE_COLUMNS), strict=True):
        if all(isinstance(p, list) for p in parts):
            joined.append([m for p in parts for m in p])
            sizes.append((len(parts[0]), len(parts[0]) + len(parts[1])))
        else:  # the first part that is not a list: the step rejects it with its reason
            joined.append(next(p for p in parts if not isinstance(p, list)))
            sizes.append(None)
    out = dict(run({**batch, MESSAGES: joined}))
    merged = out.pop(MESSAGES)
    columns = {c: list(out[c]) for c in PREFERENCE_COLUMNS}
    for i, cut in enumerate(sizes):
        msgs = merged[i]
        if cut is None or not isinstance(msgs, list) or len(msgs) != len(joined[i]):
            continue
        a, b = cut
        for c, part in zip(PREFERENCE_COLUMNS, (msgs[:a], msgs[a:b], msgs[b:]), strict=True):
            columns[c][i] = part
    return {**out, **columns}


def _check_text(value: Any, bad: BadRow) -> str:
    if not isinstance(value, str):
        raise RowError(bad.text, f"text must be str, got {type(value).__name__}")
    return value


def _check_messages(value: Any, bad: BadRow) -> Sequence[Mapping[str, Any]]:
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes, bytearray)):
        raise RowError(bad.messages, f"messages must be a list, got {type(value).__name__}")
    for i, m in enumerate(value):
        if not isinstance(m, Mapping) or not isinstance(m.get("content"), str):
            got = type(m.get("content")).__name__ if isinstance(m, Mapping) else type(m).__name__
            raise RowError(f"{bad.content}:{i}", f"message {i} content must be str, got {got}")
    return value


def row_texts(
    value: Any,
    column: str | None,
    *,
    step: str | BadRow,
    roles: Collection[str] | None = None,
) -> list[str]:
    """The texts of one row's ``column`` value: ``[text]`` or the selected contents.

    ``column=None`` reads a ``str`` (or ``None``) as a text row and anything else as
    messages. ``roles`` selects messages by role (``None`` = every message). Raises
    :class:`RowError` with a reason of :meth:`BadRow.of(step) <BadRow.of>`.

    >>> row_texts([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
    ...           "messages", step="demo", roles={"assistant"})
    ['a']
    """
    bad = BadRow.of(step)
    if column == TEXT or (column is None and (value is None or isinstance(value, str))):
        return [_check_text(value, bad)]
    msgs = _check_messages(value, bad)
    return [m["content"] for m in msgs if roles is None or m.get("role") in roles]


def with_texts(value: Any, texts: list[str]) -> Any:
    """``value`` with its texts replaced by ``texts`` (a new object; the input is untouched).

    >>> with_texts([{"role": "user", "content": "a"}], ["b"])
    [{'role': 'user', 'content': 'b'}]
    """
    if isinstance(value, str):
        return texts[0]
    return [{**m, "content": t} for m, t in zip(value, texts, strict=True)]


def map_texts(
    batch: Mapping[str, list[Any]],
    fn: Callable[[str], str],
    *,
    step: str | BadRow,
    column: Column = "auto",
    roles: Collection[str] | None = None,
) -> Batch:
    """Apply ``fn`` to the text of every kept row (every message content, or ``roles``).

    ``fn`` may raise :class:`RowError` to reject the row. Messages keep their other
    keys; the input batch is not modified. See the module docstring for an example.
    """
    name = pick_column(batch, column)
    bad = BadRow.of(step)

    def on_text(value: Any) -> str:
        return fn(_check_text(value, bad))

    def on_messages(value: Any) -> list[dict[str, Any]]:
        msgs = _check_messages(value, bad)
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
    step: str | BadRow,
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
