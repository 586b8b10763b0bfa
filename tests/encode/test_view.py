"""The mask viewer: token texts rebuild the row, highlights follow the labels, HTML is self-contained."""

from __future__ import annotations

import doctest
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

import sftdata as sd
from sftdata import IGNORE_INDEX, SftDataError
from tests.strategies import conversations, words

ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _Spans(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.classes: list[str] = []
        self.tags: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        a = dict(attrs)
        if tag == "span" and a.get("title", "").startswith("#"):  # type: ignore[union-attr]
            self.classes.append(a.get("class") or "")
        self.links += [v for k, v in attrs if k in ("src", "href") and v]


@settings(max_examples=15)
@given(messages=conversations(text=words))
def test_token_texts_rebuild_the_decoded_row_and_follow_labels(
    messages: list[dict[str, str]], llama_tokenizer: Any
) -> None:
    """Joined token texts equal tokenizer.decode(ids); a token is shown trained iff its label is not -100."""
    row = sd.encode(messages, llama_tokenizer, "llama2", max_length=100_000)
    views = sd.view.token_views(row, llama_tokenizer)
    assert "".join(v.text for v in views) == llama_tokenizer.decode(row["input_ids"].tolist())
    assert [v.trained for v in views] == [t != IGNORE_INDEX for t in row["labels"].tolist()]
    plain = sd.view.terminal(row, llama_tokenizer, color=False).rsplit("\n", 1)[0]
    trained_text = "".join(v.text for v in views if v.trained)
    assert "".join(re.findall(r"\[\[(.*?)\]\]", plain, flags=re.S)) == trained_text
    coloured = sd.view.terminal(row, llama_tokenizer)
    assert ANSI.sub("", coloured).replace("↵", "") == plain.replace("[[", "").replace("]]", "") + (
        "\n" + coloured.rsplit("\n", 1)[1]
    )


def test_packed_rows_show_sample_boundaries(llama_tokenizer: Any) -> None:
    """A packed row shows one ║ between consecutive samples and counts them."""
    conv = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    row = sd.encode(conv, llama_tokenizer, "llama2", max_length=64)
    ids, labels = row["input_ids"].tolist(), row["labels"].tolist()
    packed, _ = sd.pack({"input_ids": [ids] * 3, "labels": [labels] * 3}, max_length=200)
    one = {k: packed[k][0] for k in packed}
    text = sd.view.terminal(one, llama_tokenizer, color=False)
    assert text.count("║") == 2
    assert text.endswith("3 packed samples")


def test_html_is_self_contained_and_marks_each_token(llama_tokenizer: Any, tmp_path: Path) -> None:
    """The page has no scripts or external links, one span per token, trained spans exactly where labels are."""
    conv = [
        {"role": "user", "content": "<b>bold?</b> & </s>"},
        {"role": "assistant", "content": "Line one\nLine two"},
    ]
    row = sd.encode(conv, llama_tokenizer, "llama2", max_length=128)
    path = sd.view.save_html([row, row], llama_tokenizer, tmp_path / "mask.html", title="t & t")
    page = path.read_text(encoding="utf-8")
    parser = _Spans()
    parser.feed(page)
    assert "script" not in parser.tags and parser.links == []
    assert "<b>" not in page  # content is escaped
    n = len(row["input_ids"])
    assert len(parser.classes) == 2 * n
    trained = [t != IGNORE_INDEX for t in row["labels"].tolist()]
    assert [c.split()[0] == "tr" for c in parser.classes[:n]] == trained


def test_bad_rows_are_named(llama_tokenizer: Any) -> None:
    """Rows without input_ids, with mismatched labels or seq_lens raise SftDataError saying so."""
    with pytest.raises(SftDataError, match="input_ids"):
        sd.view.terminal({"labels": [1]}, llama_tokenizer)
    with pytest.raises(SftDataError, match="labels"):
        sd.view.terminal({"input_ids": [1, 2], "labels": [1]}, llama_tokenizer)
    with pytest.raises(SftDataError, match="seq_lens"):
        sd.view.terminal({"input_ids": [1, 2], "seq_lens": [3]}, llama_tokenizer)


@pytest.mark.parametrize(
    "module",
    [
        "sftdata.encode._encode",
        "sftdata.encode._collate",
        "sftdata.encode._pack",
        "sftdata.encode.view",
    ],
)
def test_docstring_examples_run(module: str, llama_tokenizer: Any) -> None:
    """The examples in the docstrings of the encode area run and print what they show."""
    import importlib

    mod = importlib.import_module(module)
    result = doctest.testmod(
        mod, extraglobs={"getfixture": lambda name: llama_tokenizer}, optionflags=doctest.ELLIPSIS
    )
    assert result.failed == 0
    assert result.attempted > 0
