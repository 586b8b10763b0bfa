"""alpaca, dolly, xtuner (both directions) and preference parsers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sftdata as sd
from sftdata._batch import rows_to_batch
from tests.parse._helpers import content
from tests.parse.test_chat_formats import A, U, _outcome, _rows
from tests.strategies import conversations

# --- alpaca / dolly ----------------------------------------------------------------------


def test_alpaca_fixture_rows():
    got = [_outcome(sd.parse.alpaca, r) for r in _rows("alpaca.jsonl")]
    assert got == [
        [U("Give three primary colours."), A("Red, yellow and blue.")],
        [U("Translate to German.\n\nGood morning"), A("Guten Morgen")],
        [U("Summarise the text."), A("There is nothing to summarise.")],
        "parse.missing_field:output",
        "parse.missing_field:instruction",
        [U("Classify the sentiment.\n\nI love it"), A("positive")],
        "parse.multiple_instances",
        "parse.empty",
    ]


def test_alpaca_instances_first_and_expand():
    row = _rows("alpaca.jsonl")[6]  # two instances: France/Paris, Japan/Tokyo
    assert sd.parse.alpaca(row, instances="first")["messages"] == [
        U("Name the capital.\n\nFrance"),
        A("Paris"),
    ]
    batch = {k: [v] for k, v in row.items()}
    out = sd.parse.Alpaca(instances="expand")(batch)
    assert out["messages"] == [
        [U("Name the capital.\n\nFrance"), A("Paris")],
        [U("Name the capital.\n\nJapan"), A("Tokyo")],
    ]
    assert out["id"] == ["a6", "a6"] and out["drop_reason"] == [None, None]


def test_alpaca_nested_field_errors_name_the_instance_field():
    row = {"instruction": "Do it.", "instances": [{"input": "x"}]}
    assert _outcome(sd.parse.alpaca, row) == "parse.missing_field:instances.output"


@pytest.mark.parametrize("bad", ["expand", "all", None])
def test_alpaca_row_function_rejects_bad_instances_option(bad):
    with pytest.raises(ValueError, match="instances"):
        sd.parse.alpaca({"instruction": "a", "output": "b"}, instances=bad)


def test_alpaca_step_rejects_bad_option_before_work():
    with pytest.raises(ValueError, match="instances must be one of"):
        sd.parse.Alpaca(instances="some")


@settings(max_examples=30)
@given(content, content, content)
def test_alpaca_blank_input_is_omitted_and_other_input_follows_a_blank_line(
    instruction, extra, output
):
    """The user turn is the instruction alone for a blank input, else instruction + blank line + input."""
    user = sd.parse.alpaca({"instruction": instruction, "input": extra, "output": output})[
        "messages"
    ][0]
    assert user["content"] == (instruction if not extra.strip() else instruction + "\n\n" + extra)


def test_dolly_fixture_rows_and_category_kept():
    rows = _rows("dolly.jsonl")
    assert [_outcome(sd.parse.dolly, r) for r in rows] == [
        [
            U(
                "When was the bridge opened?\n\nThe bridge opened to traffic in 1937 after four years of work."
            ),
            A("In 1937."),
        ],
        [U("Suggest a name for a cat."), A("Whiskers.")],
        "parse.missing_field:response",
    ]
    batch = rows_to_batch(rows)
    assert sd.parse.Dolly(keep=("id", "category"))(batch)["category"] == [
        "closed_qa",
        "brainstorming",
        "open_qa",
    ]


# --- xtuner -------------------------------------------------------------------------------


def test_xtuner_fixture_rows():
    got = [_outcome(sd.parse.xtuner, r) for r in _rows("xtuner.jsonl")]
    assert got == [
        [
            {"role": "system", "content": "You are a poet."},
            U("Write a line."),
            A("The moon is a lantern."),
            U("Another."),
            A("The sea is a drum."),
        ],
        [U(""), A("Plain continuation text.")],
        "parse.missing_field:conversation.output",
        "parse.bad_order:2",
    ]


system_text = content.filter(lambda s: s != "")


@settings(max_examples=30)
@given(
    conversations(text=content).filter(lambda c: c[0]["content"] != "" or c[0]["role"] != "system")
)
def test_xtuner_of_to_xtuner_is_identity(conv):
    """xtuner(to_xtuner(m)) == m for every conversation without tool turns or an empty system."""
    assert sd.parse.xtuner(sd.parse.to_xtuner(conv)) == {"messages": conv}


turn = st.fixed_dictionaries({"input": content, "output": content})


@settings(max_examples=30)
@given(st.lists(turn, min_size=1, max_size=4), st.one_of(st.none(), system_text))
def test_to_xtuner_of_xtuner_is_identity(turns, system):
    """to_xtuner(xtuner(row)) == row for canonical rows (system, when set, on the first turn)."""
    if system is not None:
        turns = [{"system": system, **turns[0]}, *turns[1:]]
    row = {"conversation": turns}
    assert sd.parse.to_xtuner(sd.parse.xtuner(row)["messages"]) == row


def test_to_xtuner_rejects_tool_turns():
    msgs = [U("q"), A("call"), {"role": "tool", "content": "r"}, A("a")]
    with pytest.raises(sd.RowError) as e:
        sd.parse.to_xtuner(msgs)
    assert e.value.reason == "parse.bad_role:tool"


def test_to_xtuner_step_marks_bad_rows_and_keeps_upstream_rejects():
    batch = {
        "messages": [[U("q"), A("a")], [U("only a question")], []],
        "drop_reason": [None, None, "parse.empty"],
    }
    out = sd.parse.ToXTuner()(batch)
    assert out["conversation"] == [[{"system": None, "input": "q", "output": "a"}], [], []]
    assert out["drop_reason"] == [None, "parse.no_assistant", "parse.empty"]
    with pytest.raises(sd.SftDataError, match="messages"):
        sd.parse.ToXTuner()({"text": ["x"]})


# --- preference ---------------------------------------------------------------------------


def test_preference_fixture_rows():
    rows = _rows("preference.jsonl") + _rows("preference_chat.jsonl")
    got = [_pref_outcome(r) for r in rows]
    italy = U("What is the capital of Italy?")
    fruit = U("Name a fruit.")
    hi = U("Say hi.")
    kind = [{"role": "system", "content": "Be kind."}, U("Rate my poem.")]
    assert got == [
        {"prompt": [italy], "chosen": [italy, A("Rome.")], "rejected": [italy, A("Milan.")]},
        "parse.identical_pair",
        "parse.missing_field:rejected",
        {"prompt": [fruit], "chosen": [fruit, A("An apple.")], "rejected": [fruit, A("A carrot.")]},
        {"prompt": [hi], "chosen": [hi, A("Hi!")], "rejected": [hi, A("No.")]},
        {
            "prompt": kind,
            "chosen": [*kind, A("It has lovely imagery.")],
            "rejected": [*kind, A("Bad.")],
        },
        "parse.missing_field:prompt",
    ]


def _pref_outcome(row):
    try:
        return sd.parse.preference(row)
    except sd.RowError as e:
        return e.reason


@settings(max_examples=30)
@given(conversations(text=content), content, content)
def test_preference_full_conversations_share_the_prompt(conv, good, bad):
    """chosen and rejected both start with exactly the prompt, which ends with a user turn."""
    prompt = conv[:-1]
    try:
        out = sd.parse.preference({"messages": prompt, "chosen": good, "rejected": bad})
    except sd.RowError as e:
        assert good == bad and e.reason == "parse.identical_pair"
        return
    assert out["prompt"] == prompt and prompt[-1]["role"] == "user"
    assert out["chosen"] == [*prompt, A(good)] and out["rejected"] == [*prompt, A(bad)]
    # the same pair given as full conversations parses to the same row
    again = sd.parse.preference({"chosen": out["chosen"], "rejected": out["rejected"]})
    assert again == out
