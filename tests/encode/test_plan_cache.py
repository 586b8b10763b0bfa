"""PlanCache: the compiled per-shape plans equal planning from the template's segments."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sftdata import RowError, templates
from sftdata.encode._plan import (
    GLUE_CONT,
    GLUE_START,
    SPECIAL,
    TOKENIZE_AS,
    PlanCache,
    plan_of_row,
    plan_segments,
)
from tests.strategies import content, conversations

NAMES = templates.names()
SETTINGS = st.tuples(st.sampled_from(["assistant", "last", "all"]), st.booleans())

# Whitespace around and inside content is what decides how a template strips it.
_padded = st.tuples(
    st.sampled_from(["", " ", "\n", " \t"]), content, st.sampled_from(["", " ", "\n\n"])
).map("".join)


def _reference(template: Any, messages: Any, *, loss_on: str, eos: bool, bos: str) -> Any:
    """Plan from the template's own segments, or the RowError it raises."""
    try:
        segments = template.segments(messages)
    except RowError as e:
        return ("error", e.reason, str(e))
    answers = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    if not answers:
        reason = "parse.no_assistant"
        return ("error", reason, f"{reason}: conversation has no assistant turn")
    last = answers[-1]
    return plan_segments(segments, loss_on=loss_on, last=last, eos=eos, bos=bos)


def _fast(cache: PlanCache, messages: Any) -> Any:
    try:
        return plan_of_row(cache.plan(messages))
    except RowError as e:
        return ("error", e.reason, str(e))


@settings(max_examples=300)
@given(
    name=st.sampled_from(NAMES),
    messages=conversations(text=_padded, max_turns=3),
    setting=SETTINGS,
    bos=st.sampled_from(["<s>", "<bos>", "<|begin_of_text|>", ""]),
)
def test_compiled_plan_equals_plan_from_segments(
    name: str, messages: list[dict[str, str]], setting: tuple[str, bool], bos: str
) -> None:
    """For every built-in template, any conversation, loss_on and train_on_eos: same plan."""
    loss_on, eos = setting
    template = templates.get(name)
    cache = PlanCache(template, loss_on=loss_on, eos=eos, bos=bos)
    want = _reference(template, messages, loss_on=loss_on, eos=eos, bos=bos)
    assert _fast(cache, messages) == want
    assert _fast(cache, messages) == want  # the second call reads the compiled shape


_roles = st.sampled_from(["system", "user", "assistant", "tool", "narrator"])


@settings(max_examples=200)
@given(
    name=st.sampled_from(NAMES),
    messages=st.lists(st.fixed_dictionaries({"role": _roles, "content": _padded}), max_size=5),
)
def test_invalid_conversations_raise_the_same_row_error(
    name: str, messages: list[dict[str, str]]
) -> None:
    """Bad order, unknown roles, no assistant, empty: the same reason and message."""
    template = templates.get(name)
    cache = PlanCache(template, loss_on="assistant", eos=True, bos="<s>")
    try:
        want = _reference(template, messages, loss_on="assistant", eos=True, bos="<s>")
    except Exception as e:  # an argument-level error (a role the template cannot render)
        with pytest.raises(type(e)):
            cache.plan(messages)
        return
    assert _fast(cache, messages) == want


def test_glue_pieces_are_marked_and_content_pieces_are_not() -> None:
    """chatml: the newline between turns is glue (tokenized once), content pieces are not."""
    cache = PlanCache(templates.get("chatml"), loss_on="assistant", eos=True, bos="<s>")
    row = cache.plan([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])
    plan = plan_of_row(row)
    glue = [text for kind, text, _ in plan if kind in (GLUE_START, GLUE_CONT)]
    assert glue == ["\n", "\n"]
    texts = [text for kind, text, _ in plan if kind not in (GLUE_START, GLUE_CONT)]
    assert "user\nhi" in texts and "assistant\nyo" in texts


@pytest.mark.parametrize(
    "messages",
    [
        None,
        "text",
        [{"role": "user", "content": 3}, {"role": "assistant", "content": "x"}],
        [["user", "hi"]],
        ({"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}),
        [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": type("S", (str,), {})("b")},
        ],
    ],
)
def test_rows_the_shape_key_cannot_read_take_the_template_path(messages: Any) -> None:
    """The same plan, except that glue is tokenized per row there (not shared)."""
    template = templates.get("chatml")
    cache = PlanCache(template, loss_on="assistant", eos=True, bos="<s>")
    want = _reference(template, messages, loss_on="assistant", eos=True, bos="<s>")
    if isinstance(want, list):
        want = [(TOKENIZE_AS.get(k, k), t, r) for k, t, r in want if k == SPECIAL or t]
    assert _fast(cache, messages) == want
