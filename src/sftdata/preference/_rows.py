"""The canonical preference row and its checks.

One preference pair is three message columns plus optional scores::

    prompt                              chosen                         rejected
    [system?, user, (assistant, user)*] [assistant, (tool, assistant)*] [assistant, ...]
     ends with a user turn               the answer turn(s) only         the answer turn(s) only
    score_chosen / score_rejected: optional numbers; every other column is carried untouched

``prompt + chosen`` and ``prompt + rejected`` are the two conversations of the pair.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sftdata._contract import Message, RowError, validate_messages

__all__ = [
    "CHOSEN",
    "PREFERENCE_COLUMNS",
    "PROMPT",
    "REJECTED",
    "SCORE_CHOSEN",
    "SCORE_REJECTED",
    "check_answer",
    "check_pair",
    "check_prompt",
]

PROMPT, CHOSEN, REJECTED = "prompt", "chosen", "rejected"
SCORE_CHOSEN, SCORE_REJECTED = "score_chosen", "score_rejected"
#: The three message columns of a preference row.
PREFERENCE_COLUMNS = (PROMPT, CHOSEN, REJECTED)


def check_prompt(prompt: Any) -> list[Message]:
    """A valid prompt: a conversation (or one user text) ending with a user turn.

    Raises ``preference.bad_prompt`` (the message says why).

    >>> check_prompt("2+2?")
    [{'role': 'user', 'content': '2+2?'}]
    """
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    try:
        msgs = validate_messages(prompt, require_assistant=False)
    except RowError as e:
        raise RowError("preference.bad_prompt", f"prompt: {e}") from None
    if msgs[-1]["role"] != "user":
        raise RowError("preference.bad_prompt", "the prompt must end with a user turn")
    return msgs


def check_answer(answer: Any, name: str = "answer") -> list[Message]:
    """Valid answer turns: an assistant turn, then optionally tool/assistant turns,
    ending with an assistant turn (a ``str`` is one assistant turn).

    Raises ``preference.bad_answer`` (the message names ``name`` and says why).

    >>> check_answer("4")
    [{'role': 'assistant', 'content': '4'}]
    """
    if isinstance(answer, str):
        return [{"role": "assistant", "content": answer}]
    if type(answer) is list and len(answer) == 1 and _plain_assistant(answer[0]):
        return answer  # the common case, checked without building anything
    if isinstance(answer, Mapping):
        answer = [answer]
    if not isinstance(answer, Sequence) or isinstance(answer, bytes) or not answer:
        raise RowError("preference.bad_answer", f"{name} must be a non-empty message list")
    # As the continuation of a one-turn prompt, the contract's order rules apply.
    try:
        msgs = validate_messages([{"role": "user", "content": ""}, *answer])[1:]
    except RowError as e:
        raise RowError("preference.bad_answer", f"{name}: {e}") from None
    roles = {m["role"] for m in msgs}
    if "user" in roles or msgs[-1]["role"] != "assistant":
        raise RowError(
            "preference.bad_answer",
            f"{name} must be assistant (and tool) turns ending with an assistant turn",
        )
    return msgs


def _plain_assistant(m: Any) -> bool:
    return (
        type(m) is dict
        and len(m) == 2
        and m.get("role") == "assistant"
        and type(m.get("content")) is str
    )


def check_pair(
    prompt: Any, chosen: Any, rejected: Any
) -> tuple[list[Message], list[Message], list[Message]]:
    """The three parts of a canonical pair, checked (see :func:`check_prompt`,
    :func:`check_answer`)."""
    return check_prompt(prompt), check_answer(chosen, CHOSEN), check_answer(rejected, REJECTED)
