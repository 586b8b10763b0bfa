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
        {"prompt": [italy], "chosen": [A("Rome.")], "rejected": [A("Milan.")]},
        "preference.identical",
        "parse.missing_field:rejected",
        {"prompt": [fruit], "chosen": [A("An apple.")], "rejected": [A("A carrot.")]},
        {"prompt": [hi], "chosen": [A("Hi!")], "rejected": [A("No.")]},
        {"prompt": kind, "chosen": [A("It has lovely imagery.")], "rejected": [A("Bad.")]},
        "parse.missing_field:prompt",
    ]


def _pref_outcome(row, fn=sd.parse.preference):
    try:
        return fn(row)
    except sd.RowError as e:
        return e.reason


@settings(max_examples=30)
@given(conversations(text=content), content, content)
def test_preference_rows_are_canonical_whatever_the_input_shape(conv, good, bad):
    """Explicit (strings), explicit (answer lists), full conversations and TRL's implicit
    prompt all give the same canonical row: the prompt, then the answer turns only."""
    prompt = conv[:-1]
    try:
        out = sd.parse.preference({"messages": prompt, "chosen": good, "rejected": bad})
    except sd.RowError as e:
        assert good == bad and e.reason == "preference.identical"
        return
    assert out["prompt"] == prompt and prompt[-1]["role"] == "user"
    assert out["chosen"] == [A(good)] and out["rejected"] == [A(bad)]
    full = {"chosen": [*prompt, A(good)], "rejected": [*prompt, A(bad)]}
    assert sd.parse.preference(full) == out  # TRL's implicit prompt
    assert sd.parse.preference({"prompt": prompt, **full}) == out
    assert sd.parse.preference({"prompt": prompt, "chosen": [A(good)], "rejected": [A(bad)]}) == out


def test_preference_answers_must_be_answer_turns():
    """A side that adds nothing, goes on with a user turn or ends on a tool turn is rejected."""
    p = [U("q")]
    tool = {"role": "tool", "content": "42"}
    cases = [
        ({"prompt": p, "chosen": p, "rejected": "x"}, "parse.no_answer"),
        (
            {"prompt": p, "chosen": [A("a"), U("more?"), A("b")], "rejected": "x"},
            "parse.bad_answer",
        ),
        ({"prompt": p, "chosen": [A("call"), tool], "rejected": "x"}, "parse.bad_answer"),
        ({"prompt": [U("q"), A("a")], "chosen": "x", "rejected": "y"}, "parse.bad_prompt"),
    ]
    assert [_pref_outcome(row) for row, _ in cases] == [reason for _, reason in cases]
    ok = sd.parse.preference(
        {"prompt": p, "chosen": [A("call"), tool, A("It is 42.")], "rejected": "x"}
    )
    assert ok["chosen"] == [A("call"), tool, A("It is 42.")]


def test_preference_step_carries_scores_and_ids():
    """score_chosen / score_rejected and id travel with the row, untouched."""
    batch = {
        "id": [1],
        "prompt": ["q"],
        "chosen": ["a"],
        "rejected": ["b"],
        "score_chosen": [0.9],
        "score_rejected": [0.1],
    }
    out = sd.parse.Preference()(batch)
    assert (out["id"], out["score_chosen"], out["score_rejected"]) == ([1], [0.9], [0.1])


def test_anthropic_hh_fixture_rows():
    """Real-looking HH transcripts: single and multi-turn, and the malformed ones with reasons."""
    got = [_pref_outcome(r, sd.parse.anthropic_hh) for r in _rows("preference_hh.jsonl")]
    sleep = U("What is a good way to fall asleep faster?")
    assert got[0] == {
        "prompt": [sleep],
        "chosen": [
            A(
                "Keep a regular bedtime, avoid screens for an hour before bed, and keep the room cool and dark."
            )
        ],
        "rejected": [A("Just stay up until you pass out.")],
    }
    note = [
        U("Can you help me write a birthday note for my sister?"),
        A("Of course. How old is she turning?"),
        U("Thirty."),
    ]
    assert got[1]["prompt"] == note and got[1]["rejected"] == [A("Happy birthday.")]
    assert got[3]["chosen"] == [A("That still parses.")]
    assert got[2:3] + got[4:] == [
        "preference.identical",
        "parse.malformed",
        "parse.bad_order:1",
        "parse.missing_field:rejected",
    ]


def test_hh_words_inside_a_turn_stay_content():
    """ "Human:" not opening the text nor after a blank line is content, not a new turn."""
    row = {
        "chosen": "\n\nHuman: Quote: Human: yes\n\nAssistant: ok",
        "rejected": "\n\nHuman: Quote: Human: yes\n\nAssistant: no",
    }
    assert sd.parse.anthropic_hh(row)["prompt"] == [U("Quote: Human: yes")]


def test_ultrafeedback_fixture_rows_best_vs_worst():
    """Best against worst with scores; ties, too few ratings and broken rows rejected with reasons."""
    rows = _rows("preference_ultrafeedback.jsonl")
    got = [_pref_outcome(r, sd.parse.ultrafeedback) for r in rows]
    assert got[0] == {
        "prompt": [U("Name three primary colours.")],
        "chosen": [A("Red, yellow and blue.")],
        "rejected": [A("Green.")],
        "score_chosen": 8.5,
        "score_rejected": 2.0,
    }
    assert got[1]["rejected"] == [A("Buongiorno.")]
    assert got[4]["prompt"][0] == {"role": "system", "content": "Be precise."}
    assert got[4]["rejected"] == [A("Yes, clearly.")]  # the first of two equally worst
    assert [got[i] for i in (2, 3, 5, 6)] == [
        "preference.tie",
        "parse.too_few_completions",
        "parse.missing_field:prompt",
        "parse.bad_field:completions",
    ]


@settings(max_examples=30)
@given(
    scores=st.lists(st.integers(0, 5), min_size=2, max_size=6),
    seed=st.integers(0, 2**32),
    prompt=st.text(max_size=8),
)
def test_ultrafeedback_best_vs_random_draws_below_the_best_and_is_reproducible(
    scores, seed, prompt
):
    """best_vs_random: chosen has the top score, rejected a lower one drawn by (seed, prompt)
    alone: the same row gives the same pair in any batch; all-equal scores are a tie."""
    row = {
        "prompt": prompt,
        "completions": [{"response": f"r{i}", "score": s} for i, s in enumerate(scores)],
    }
    step = sd.parse.UltraFeedback(binarize="best_vs_random", seed=seed)
    if len(set(scores)) == 1:
        assert step({k: [v] for k, v in row.items()})["drop_reason"] == ["preference.tie"]
        return
    out = sd.parse.ultrafeedback(row, binarize="best_vs_random", seed=seed)
    assert out["score_chosen"] == max(scores) > out["score_rejected"]
    assert out["chosen"] == [A(f"r{scores.index(max(scores))}")]
    batch = {k: [v, v] for k, v in row.items()}
    again = step(batch)
    assert again["rejected"] == [out["rejected"]] * 2
