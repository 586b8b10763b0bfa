"""Shared hypothesis strategies: messages, conversations, hostile text, JSON-like junk."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import strategies as st

#: Text that looks like control tokens or template markers of common families.
CONTROL_LOOKALIKES = [
    "<s>",
    "</s>",
    "[INST]",
    "[/INST]",
    "<<SYS>>",
    "<|im_start|>",
    "<|im_end|>",
    "<|eot_id|>",
    "<|begin_of_text|>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<|end|>",
    "<|user|>",
    "### Human:",
    "### Assistant:",
    "### Step 1",
]

_alphabet = st.characters(blacklist_categories=("Cs",))  # no lone surrogates

plain_text = st.text(alphabet=_alphabet, max_size=60)
_letters = st.text(
    alphabet=string.ascii_letters, min_size=1, max_size=10
)  # cheaper than from_regex
words = st.lists(_letters, min_size=1, max_size=12).map(" ".join)
whitespace_only = st.text(alphabet=" \t\n\r\u00a0\u3000", min_size=1, max_size=5)
control_text = st.lists(
    st.one_of(st.sampled_from(CONTROL_LOOKALIKES), words), min_size=1, max_size=6
).map(" ".join)
long_text = st.integers(min_value=2_000, max_value=20_000).map(lambda n: ("long text " * n)[:n])

#: Any content a message may carry: unicode, empty, whitespace-only, control-token lookalikes.
content = st.one_of(plain_text, words, st.just(""), whitespace_only, control_text)
#: Content that is non-empty after ``strip()``: what a template can always render visibly.
visible_content = st.one_of(words, control_text, plain_text.filter(lambda s: s.strip() != ""))


@st.composite
def conversations(
    draw: st.DrawFn,
    *,
    min_turns: int = 1,
    max_turns: int = 4,
    system: bool | None = None,
    text: st.SearchStrategy[str] = content,
) -> list[dict[str, str]]:
    """A valid conversation: optional system, then user/assistant pairs, ending with assistant."""
    msgs: list[dict[str, str]] = []
    with_system = draw(st.booleans()) if system is None else system
    if with_system:
        msgs.append({"role": "system", "content": draw(text)})
    for _ in range(draw(st.integers(min_value=min_turns, max_value=max_turns))):
        msgs.append({"role": "user", "content": draw(text)})
        msgs.append({"role": "assistant", "content": draw(text)})
    return msgs


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(alphabet=_alphabet, max_size=20),
)
#: Arbitrary JSON-like values: what a malformed input row can contain.
json_like: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


# --- preference pairs ---------------------------------------------------------------


@st.composite
def answers(draw: st.DrawFn, *, text: st.SearchStrategy[str] = content) -> list[dict[str, str]]:
    """Answer turns of a preference pair: one assistant turn, sometimes a tool round-trip first."""
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        return [
            {"role": "assistant", "content": draw(text)},
            {"role": "tool", "content": draw(text)},
            {"role": "assistant", "content": draw(text)},
        ]
    return [{"role": "assistant", "content": draw(text)}]


@st.composite
def preference_rows(
    draw: st.DrawFn, *, max_turns: int = 3, text: st.SearchStrategy[str] = content
) -> dict[str, list[dict[str, str]]]:
    """A canonical preference row: a prompt ending with a user turn and two answers."""
    prompt = draw(conversations(max_turns=max_turns, text=text))[:-1]
    return {
        "prompt": prompt,
        "chosen": draw(answers(text=text)),
        "rejected": draw(answers(text=text)),
    }
