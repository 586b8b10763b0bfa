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


#: Strings pyarrow's JSON reader would take for timestamps (Python keeps them strings).
DATE_LIKE = ["2020-01-01", "2020-01-01 10:00:00", "2020-01-01T10:00:00Z", "1999-12-31T23:59"]
_json_row_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=True),
    st.text(alphabet=_alphabet, max_size=12),
    st.sampled_from([*DATE_LIKE, "10:00:00", "2020-13-45", "1e5", "\u2028", "}{"]),
)
#: JSON object rows over a few shared keys, so that columns meet mixed and nested types.
json_rows: st.SearchStrategy[dict[str, Any]] = st.dictionaries(
    st.sampled_from(["a", "b", "text", "id", "meta"]),
    st.recursive(
        _json_row_scalars,
        lambda c: st.one_of(
            st.lists(c, max_size=3),
            st.dictionaries(st.sampled_from(["x", "y", "z"]), c, max_size=3),
        ),
        max_leaves=6,
    ),
    max_size=4,
)
_LEAF_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "int": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(-1e18, 1e18),
    "bool": st.booleans(),
    "str": st.one_of(st.text(alphabet=_alphabet, max_size=12), st.sampled_from(DATE_LIKE)),
}
_value_types = st.recursive(
    st.sampled_from(sorted(_LEAF_VALUES)),
    lambda t: st.one_of(
        t.map(lambda inner: ("list", inner)),
        st.dictionaries(st.sampled_from(["x", "y", "z"]), t, max_size=3).map(
            lambda fields: ("struct", tuple(fields.items()))
        ),
    ),
    max_leaves=5,
)


def _values_of(kind: Any) -> st.SearchStrategy[Any]:
    """Values of one JSON type (``None`` anywhere; struct fields may be missing)."""
    if isinstance(kind, str):
        inner = _LEAF_VALUES[kind]
    elif kind[0] == "list":
        inner = st.lists(_values_of(kind[1]), max_size=3)
    else:
        inner = st.fixed_dictionaries({}, optional={k: _values_of(t) for k, t in kind[1]})
    return st.one_of(st.none(), inner)


@st.composite
def same_type_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Rows whose every column (nested fields too) holds one JSON type, keys optional."""
    kinds = draw(st.dictionaries(st.sampled_from(["a", "b", "text", "meta"]), _value_types))
    row = st.fixed_dictionaries({}, optional={k: _values_of(t) for k, t in kinds.items()})
    return draw(st.lists(row, max_size=12))


#: Lines no JSONL reader should take as one object row.
BAD_JSONL_LINES = [
    b'{"text": "cut off',
    b"[1, 2]",
    b"3",
    b'"just a string"',
    b'{"a": 1}{"a": 2}',
    b'{"a":',
    b"1}",
    b'{"a": 1, "a": 2}',
    b'\xef\xbb\xbf{"a": 1}',
    b'{"text": "bad \xff utf8"}',
    b'{"text": "\xed\xa0\x80"}',
    b'{"a": 1e400}',
    b'{"a": 123456789012345678901}',
    b'{"a": -9223372036854775809}',
    b'{"a": "\\ud800"}',
    b'{"a": NaN}',
    b'{"a": Infinity}',
    b'{"a": -NaN}',
    b'{"a": Inf}',
    b'{"a": [1, -Inf]}',
    b'{"a": 1,}',
    b"\x0c",
    b"",
    b"   ",
    b"\t",
    b'  {"text": "spaced"}  ',
    b'{"text": "tab\tinside"}',
    b"{}",
    b'{"text": {}}',
    b'{"text": []}',
]


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
