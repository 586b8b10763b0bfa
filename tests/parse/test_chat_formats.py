"""oasst1, ShareGPT and OpenAI parsers: examples on hand-written fixtures, round trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sftdata as sd
from tests.parse._helpers import FIXTURES, content
from tests.strategies import conversations

MARKERS = ("### Human:", "### Assistant:")


def _rows(name: str) -> list[dict]:
    path = FIXTURES / name
    if path.suffix == ".json":
        return json.loads(path.read_text())
    return [json.loads(line) for line in path.read_text().splitlines()]


def _outcome(fn, row):
    try:
        return fn(row)["messages"]
    except sd.RowError as e:
        return e.reason


def U(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def A(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


# --- oasst1 -------------------------------------------------------------------------------


def test_oasst1_fixture_rows():
    got = [_outcome(sd.parse.oasst1, r) for r in _rows("oasst1.jsonl")]
    assert got == [
        [
            U("How do I make tea?"),
            A("### Step 1\nBoil water.\n### Step 2\nSteep the leaves for three minutes."),
        ],
        [
            U("Hi there"),
            A("Hello! How can I help?"),
            U("Tell me a joke."),
            A("Why did the chicken cross the road?"),
        ],
        "parse.malformed",
        "parse.malformed",
        "parse.no_assistant",
        "parse.bad_order:1",
    ]


@pytest.mark.parametrize(
    "lookalike", ["###Human:", "### human:", "### Humans:", "## Assistant:", "### Step 1"]
)
def test_oasst1_only_exact_markers_split(lookalike):
    text = f"### Human: a {lookalike} b### Assistant: c"
    assert sd.parse.oasst1({"text": text})["messages"] == [U(f"a {lookalike} b"), A("c")]


def _oasst1_text(conv: list[dict[str, str]]) -> str:
    marker = {"user": "### Human: ", "assistant": "### Assistant: "}
    return "".join(marker[m["role"]] + m["content"] for m in conv)


no_marker_text = content.filter(lambda s: not any(m in s for m in MARKERS))


@settings(max_examples=30)
@given(conversations(system=False, text=no_marker_text))
def test_oasst1_round_trips_rendered_text(conv):
    """Rendering a conversation with the markers and parsing it back gives the stripped turns."""
    stripped = [{"role": m["role"], "content": m["content"].strip()} for m in conv]
    assert sd.parse.oasst1({"text": _oasst1_text(conv)})["messages"] == stripped


@settings(max_examples=30)
@given(conversations(system=False, text=no_marker_text), no_marker_text)
def test_oasst1_drops_a_trailing_unanswered_question(conv, question):
    """A trailing human turn never changes the parsed conversation (it has no answer)."""
    text = _oasst1_text(conv)
    with_question = text + "### Human: " + question
    assert sd.parse.oasst1({"text": with_question}) == sd.parse.oasst1({"text": text})


# --- ShareGPT -----------------------------------------------------------------------------


def test_sharegpt_fixture_rows():
    got = [_outcome(sd.parse.sharegpt, r) for r in _rows("sharegpt.json")]
    call = '{"name": "weather", "arguments": {"city": "Oslo"}}'
    assert got == [
        [U("Who are you?"), A("A helpful assistant.")],
        [
            {"role": "system", "content": "Answer in one word."},
            U("Sky colour?"),
            A("Blue."),
            U("Grass?"),
            A("Green."),
        ],
        [
            U("Weather in Oslo?"),
            A(call),
            {"role": "tool", "content": '{"temp": 3}'},
            A("It is 3 degrees."),
        ],
        "parse.bad_role:bot",
        "parse.bad_order:0",
        "parse.no_assistant",
        "parse.empty",
    ]


def test_sharegpt_role_map_and_keys_are_parameters():
    row = {"dialog": [{"speaker": "Q", "text": "1+1?"}, {"speaker": "R", "text": "2"}]}
    step = sd.parse.ShareGPT(
        role_map={"Q": "user", "R": "assistant"},
        column="dialog",
        role_key="speaker",
        content_key="text",
    )
    out = step({k: [v] for k, v in row.items()})
    assert out["messages"] == [[U("1+1?"), A("2")]] and out["drop_reason"] == [None]
    # the default map does not know these speakers
    assert (
        _outcome(sd.parse.sharegpt, {"conversations": [{"from": "Q", "value": "x"}]})
        == "parse.bad_role:Q"
    )


def test_sharegpt_role_map_order_does_not_change_the_step():
    a = sd.parse.ShareGPT(role_map={"q": "user", "a": "assistant"})
    b = sd.parse.ShareGPT(role_map={"a": "assistant", "q": "user"})
    assert a == b and hash(a) == hash(b)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"role_map": {"bot": "robot"}}, ValueError),
        ({"column": 3}, TypeError),
        ({"keep": "id"}, TypeError),
        ({"keep": ("messages",)}, ValueError),
        ({"system_key": 1}, TypeError),
    ],
)
def test_sharegpt_bad_arguments_fail_at_construction(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        sd.parse.ShareGPT(**kwargs)


# --- OpenAI -------------------------------------------------------------------------------


def test_openai_fixture_rows():
    got = [
        _outcome(sd.parse.openai, r) for r in _rows("openai.jsonl") + _rows("openai_parts.jsonl")
    ]
    assert got == [
        [{"role": "system", "content": "Be terse."}, U("2+2?"), A("4")],
        "parse.bad_order:1",
        "parse.bad_role:bot",
        [
            U("Weather?"),
            A('{"call": "weather"}'),
            {"role": "tool", "content": "sunny"},
            A("Sunny."),
        ],
        [U("Describe\na cat."), A("Small and furry.")],
        "parse.unsupported_part:image_url",
    ]


def test_openai_tool_call_without_content_becomes_json():
    calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    row = {
        "messages": [
            U("Run f."),
            {"role": "assistant", "content": None, "tool_calls": calls},
            {"role": "tool", "content": "done", "tool_call_id": "c1"},
            A("f ran."),
        ]
    }
    msgs = sd.parse.openai(row)["messages"]
    assert json.loads(msgs[1]["content"]) == calls
    assert [m["role"] for m in msgs] == ["user", "assistant", "tool", "assistant"]


@settings(max_examples=30)
@given(conversations(text=content), st.sampled_from(["", "\n", " "]))
def test_openai_parts_flatten_like_plain_strings(conv, sep):
    """Content split into one text part per character joins back to the plain string."""
    parted = [
        {"role": m["role"], "content": [{"type": "text", "text": ch} for ch in m["content"]]}
        for m in conv
    ]
    got = sd.parse.openai({"messages": parted}, part_separator=sep)["messages"]
    assert got == [{"role": m["role"], "content": sep.join(m["content"])} for m in conv]


def test_openai_tool_calls_next_to_text_are_kept_after_it():
    calls = [{"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{}"}}]
    row = {
        "messages": [
            U("Run g."),
            {"role": "assistant", "content": "Running g.", "tool_calls": calls},
        ]
    }
    text, dumped = sd.parse.openai(row)["messages"][1]["content"].split("\n", 1)
    assert text == "Running g." and json.loads(dumped) == calls
