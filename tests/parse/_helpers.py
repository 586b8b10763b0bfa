"""Parser table and near-valid row strategies shared by the parser tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

import sftdata as sd
from tests.strategies import CONTROL_LOOKALIKES, conversations, json_like, whitespace_only

FIXTURES = Path(__file__).parent.parent / "fixtures" / "parse"


@dataclass(frozen=True)
class Parser:  # rows: near-valid junk, or valid rows rendered from a conversation
    name: str
    row_fn: Callable[[Any], dict[str, Any]]
    step: Any
    rows: st.SearchStrategy[dict[str, Any]]  # near-valid rows: right keys, sometimes junk values
    fixture: str


# Small text keeps generation cheap: unicode, empty, blank, control-token lookalikes.
content = st.one_of(
    st.just(""),
    whitespace_only,
    st.text(max_size=12),
    st.sampled_from(CONTROL_LOOKALIKES),
    st.lists(st.sampled_from([*CONTROL_LOOKALIKES, "word", " ", "\n"]), max_size=4).map("".join),
)
# A field value: usually text, sometimes anything at all.
text_or_junk = st.one_of(content, json_like)
ids = st.one_of(st.none(), st.text(max_size=8))


def _row(required: dict[str, Any], optional: dict[str, Any] | None = None) -> Any:
    # "id" is always there: a columnar batch with no columns has no rows at all.
    return st.fixed_dictionaries(
        {"id": ids}, optional={**required, **(optional or {}), "meta": json_like}
    )


_NAMES = {"system": "system", "user": "human", "assistant": "gpt"}


def _valid(render: Callable[[list[dict[str, str]]], dict[str, Any]]) -> Any:
    """Rows rendered from valid conversations, so the kept path is exercised too."""
    convs = conversations(max_turns=3, text=content)
    return st.tuples(convs, ids).map(lambda c: {"id": c[1], **render(c[0])})


def _oasst1_text(conv: list[dict[str, str]]) -> dict[str, Any]:
    marker = {"user": "### Human: ", "assistant": "### Assistant: ", "system": ""}
    return {
        "text": "".join(marker[m["role"]] + m["content"] for m in conv if m["role"] != "system")
    }


def _sharegpt_row(conv: list[dict[str, str]]) -> dict[str, Any]:
    return {"conversations": [{"from": _NAMES[m["role"]], "value": m["content"]} for m in conv]}


def _xtuner_row(conv: list[dict[str, str]]) -> dict[str, Any]:
    body = [m["content"] for m in conv if m["role"] != "system"]
    return {
        "conversation": [
            {"input": u, "output": a} for u, a in zip(body[::2], body[1::2], strict=True)
        ]
    }


def _preference_row(conv: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "prompt": conv[:-1],
        "chosen": conv[-1]["content"],
        "rejected": conv[-1]["content"] + "!",
    }


def kept_output_ok(column: str, value: Any) -> bool:
    """A kept row's output column holds what the contract says: messages (a preference
    side: its answer turns only), or a score."""
    if column in ("score_chosen", "score_rejected"):
        return isinstance(value, float)
    if column in ("chosen", "rejected"):
        return sd.preference.check_answer(value, column) == value
    return sd.validate_messages(value, require_assistant=column != "prompt") == value


def _hh_row(conv: list[dict[str, str]]) -> dict[str, Any]:
    names = {"user": "Human", "assistant": "Assistant"}
    body = "".join(f"\n\n{names[m['role']]}: {m['content']}" for m in conv if m["role"] in names)
    return {"chosen": body, "rejected": body + " (not this)"}


def _uf_row(conv: list[dict[str, str]]) -> dict[str, Any]:
    text = conv[-1]["content"]
    scores = [7, 3, 5, 3]
    return {
        "prompt": conv[:-1],
        "completions": [{"response": text + str(s), "overall_score": s} for s in scores],
    }


def _turns(keys: dict[str, Any], max_size: int = 4) -> Any:
    turn = st.one_of(st.fixed_dictionaries({}, optional=keys), json_like)
    return st.one_of(st.lists(turn, max_size=max_size), json_like)


sharegpt_names = st.one_of(st.sampled_from(sorted(sd.parse.SHAREGPT_ROLES)), text_or_junk)
roles = st.one_of(st.sampled_from(sd.ROLES), text_or_junk)
text_parts = st.lists(
    st.one_of(
        st.fixed_dictionaries({"type": st.just("text"), "text": content}),
        st.fixed_dictionaries({"type": st.sampled_from(["image_url", "text"]), "text": json_like}),
    ),
    max_size=3,
)
chat = _turns({"role": roles, "content": st.one_of(content, text_parts, json_like)})
side = st.one_of(content, chat, st.fixed_dictionaries({"role": roles, "content": content}))
hh_text = st.lists(
    st.tuples(st.sampled_from(["\n\nHuman: ", "\n\nAssistant: ", "Human:", "\n\n"]), content)
).map(lambda ts: "".join(m + c for m, c in ts))
completion = st.one_of(
    json_like,
    st.fixed_dictionaries(
        {"response": content},
        optional={"overall_score": st.one_of(st.integers(0, 3), json_like), "score": json_like},
    ),
)

PARSERS = [
    Parser(
        "oasst1",
        sd.parse.oasst1,
        sd.parse.Oasst1(),
        st.one_of(
            _row({"text": text_or_junk}),
            _row(
                {
                    "text": st.lists(
                        st.tuples(
                            st.sampled_from(["### Human: ", "### Assistant: ", "###"]), content
                        )
                    ).map(lambda ts: "".join(m + c for m, c in ts))
                }
            ),
            _valid(_oasst1_text),
        ),
        "oasst1.jsonl",
    ),
    Parser(
        "alpaca",
        sd.parse.alpaca,
        sd.parse.Alpaca(),
        _row(
            {"instruction": text_or_junk, "output": text_or_junk},
            {"input": text_or_junk, "instances": _turns({"input": content, "output": content})},
        ),
        "alpaca.jsonl",
    ),
    Parser(
        "dolly",
        sd.parse.dolly,
        sd.parse.Dolly(),
        _row({"instruction": text_or_junk, "response": text_or_junk}, {"context": text_or_junk}),
        "dolly.jsonl",
    ),
    Parser(
        "sharegpt",
        sd.parse.sharegpt,
        sd.parse.ShareGPT(),
        st.one_of(
            _row(
                {"conversations": _turns({"from": sharegpt_names, "value": text_or_junk})},
                {"system": text_or_junk},
            ),
            _valid(_sharegpt_row),
        ),
        "sharegpt.json",
    ),
    Parser(
        "openai",
        sd.parse.openai,
        sd.parse.OpenAI(),
        st.one_of(_row({"messages": chat}), _valid(lambda c: {"messages": c})),
        "openai.jsonl",
    ),
    Parser(
        "xtuner",
        sd.parse.xtuner,
        sd.parse.XTuner(),
        st.one_of(
            _row(
                {
                    "conversation": _turns(
                        {"system": text_or_junk, "input": text_or_junk, "output": text_or_junk}
                    )
                }
            ),
            _valid(_xtuner_row),
        ),
        "xtuner.jsonl",
    ),
    Parser(
        "preference",
        sd.parse.preference,
        sd.parse.Preference(),
        st.one_of(
            _row(
                {"chosen": side, "rejected": side},
                {"prompt": st.one_of(content, chat), "messages": chat},
            ),
            _valid(_preference_row),
        ),
        "preference.jsonl",
    ),
    Parser(
        "anthropic_hh",
        sd.parse.anthropic_hh,
        sd.parse.AnthropicHH(),
        st.one_of(
            _row(
                {
                    "chosen": st.one_of(text_or_junk, hh_text),
                    "rejected": st.one_of(text_or_junk, hh_text),
                }
            ),
            _valid(_hh_row),
        ),
        "preference_hh.jsonl",
    ),
    Parser(
        "ultrafeedback",
        sd.parse.ultrafeedback,
        sd.parse.UltraFeedback(),
        st.one_of(
            _row(
                {"completions": st.one_of(json_like, st.lists(completion, max_size=4))},
                {"prompt": st.one_of(content, chat), "instruction": text_or_junk},
            ),
            _valid(_uf_row),
        ),
        "preference_ultrafeedback.jsonl",
    ),
]
PARSER_IDS = [p.name for p in PARSERS]


def load_fixture(name: str) -> Any:
    """A fixture file as a ``datasets.Dataset`` (read by the json builder, no network)."""
    import datasets

    return datasets.load_dataset("json", data_files=str(FIXTURES / name), split="train")
