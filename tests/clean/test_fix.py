"""FixText / fix_text: ftfy equivalence of the fast path, idempotence, bad input."""

from __future__ import annotations

import pickle
import subprocess
import sys
import time

import datasets
import ftfy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sftdata as sd
from sftdata.clean import FixText, fix_text, ftfy_fix
from sftdata.clean._ftfy_fast import _ANCHOR, _BAD_ANY_LINE, _is_bad_line
from tests.clean._strategies import (
    any_text,
    ascii_clean,
    badness_branch_examples,
    badness_text,
    mojibake,
    tricky_text,
)

options = st.fixed_dictionaries(
    {
        "fix_mojibake": st.booleans(),
        "uncurl_quotes": st.booleans(),
        "normalization": st.sampled_from(["NFC", "NFKC", None]),
        "remove_invisible": st.booleans(),
        "normalize_whitespace": st.booleans(),
        "max_blank_lines": st.integers(0, 3),
        "strip_html": st.booleans(),
    }
)


@settings(max_examples=100)
@given(
    text=st.one_of(tricky_text, mojibake, any_text),
    normalization=st.sampled_from(["NFC", "NFKC", None]),
    uncurl=st.booleans(),
)
def test_fast_path_equals_ftfy(text: str, normalization: str | None, uncurl: bool) -> None:
    """ftfy_fix(x) == ftfy.fix_text(x) for the same configuration, for any text."""
    config = ftfy.TextFixerConfig(normalization=normalization, uncurl_quotes=uncurl, explain=False)
    assert ftfy_fix(text, normalization=normalization, uncurl=uncurl) == ftfy.fix_text(text, config)  # type: ignore[arg-type]


def test_fast_path_equals_ftfy_across_long_documents() -> None:
    """Line-wise fast path == ftfy on documents mixing clean lines, mojibake and HTML."""
    lines = ["A clean line of text.", "CafÃ© crÃ¨me", "x < y &amp; z", "“quoted”", "Ã  la"]
    doc = "\n".join(lines[i % 5] + " " * (i % 3) for i in range(200)) + "\r\nend &lt;"
    assert ftfy_fix(doc) == ftfy.fix_text(doc)


def test_badness_anchors_found_for_installed_ftfy() -> None:
    """Every branch of ftfy's BADNESS_RE has an anchor class (else lines are searched whole)."""
    assert _ANCHOR is not None
    assert not _ANCHOR.search("naïve café résumé привет 東京 smörgåsbord")


@settings(max_examples=300)
@given(text=badness_text, cut=st.integers(0, 40))
def test_anchored_badness_equals_whole_line_search(text: str, cut: int) -> None:
    """_is_bad_line(text, a, b) == BADNESS_RE (multiline) finds a match in text[a:b]."""
    n = len(text)
    for start, end in ((0, n), (min(cut, n), n), (0, min(cut, n))):
        expected = _BAD_ANY_LINE.search(text, start, end) is not None
        assert _is_bad_line(text, start, end) == expected


def test_anchored_badness_finds_every_branch_in_prose() -> None:
    """Every branch's match, alone in a line or after another anchor, is found as ftfy finds it."""
    for match in badness_branch_examples():
        for text in (
            f"ab {match} cd",
            match,
            *(f"Ü{'a' * gap}{match}z" for gap in range(8)),
            *(f"{match}{'a' * gap}€" for gap in range(8)),
        ):
            expected = _BAD_ANY_LINE.search(text) is not None
            assert _is_bad_line(text, 0, len(text)) == expected, text


@given(text=any_text, opts=options)
def test_idempotent(text: str, opts: dict) -> None:
    """fix_text(fix_text(x)) == fix_text(x) for every option set."""
    once = fix_text(text, **opts)
    assert fix_text(once, **opts) == once


@given(text=ascii_clean)
def test_ascii_clean_text_unchanged(text: str) -> None:
    """Printable ASCII lines without trailing spaces come back unchanged."""
    assert fix_text(text) == text


@given(text=any_text, max_blank=st.integers(0, 3))
def test_output_shape(text: str, max_blank: int) -> None:
    """Default output: no \\r, NUL, zero-width or trailing spaces; <= N blank lines; NFC."""
    out = fix_text(text, max_blank_lines=max_blank)
    for bad in ("\r", "\x00", "\u200b", "\ufeff", " \n", "\t\n", "\n" * (max_blank + 2)):
        assert bad not in out
    assert out == out.rstrip()  # no trailing whitespace at the end either
    assert out.lstrip(" \t") == out.strip()  # leading indentation is kept, blank lines are not
    import unicodedata

    assert unicodedata.is_normalized("NFC", out)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CafÃ© crÃ¨me", "Café crème"),  # UTF-8 read as cp1252
        ("doesnâ€™t", "doesn't"),  # smart quote mojibake, then uncurled
        ("line one  \r\nline two\r\n\r\n\r\n\r\nthree\n", "line one\nline two\n\nthree"),
        ("zero\u200bwidth\x00 nul\ufeff", "zerowidth nul"),
        ("e\u0301", "é"),
        ("ｆｕｌｌ　width", "full width"),
        ("\ud83d\ude00 pair, lone \ud800", "😀 pair, lone \ufffd"),
        ("keep \u200d joiner", "keep \u200d joiner"),
    ],
)
def test_examples(raw: str, expected: str) -> None:
    """Known repairs give the known result."""
    assert fix_text(raw) == expected


def test_options() -> None:
    """NFKC folds compatibility forms; html stripping drops tags and scripts."""
    assert fix_text("x² ﬁ", normalization="NFKC") == "x2 fi"
    assert fix_text("x²", normalization="NFC") == "x²"
    page = "<p>Hello <b>world</b></p><script>alert(1)</script><p>bye &amp; co</p>"
    assert fix_text(page, strip_html=True) == "Hello world\n\nbye & co"
    assert fix_text("a\n\n\n\nb", max_blank_lines=0) == "a\nb"
    assert fix_text("CafÃ©", fix_mojibake=False) == "CafÃ©"


def test_bad_arguments_fail_early() -> None:
    """Bad options raise before any work, naming the field."""
    with pytest.raises(sd.SftDataError, match="normalization"):
        FixText(normalization="NFD")  # type: ignore[arg-type]
    with pytest.raises(sd.SftDataError, match="max_blank_lines"):
        FixText(max_blank_lines=-1)
    with pytest.raises(TypeError, match="max_blank_lines"):
        FixText(max_blank_lines=True)
    with pytest.raises(sd.SftDataError, match="column"):
        FixText(column="body")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="roles"):
        FixText(roles="assistant")  # type: ignore[arg-type]


def test_bad_rows_are_rejected_not_raised() -> None:
    """None / non-str text and bad message contents become rejects with a reason."""
    out = FixText()({"text": [None, 3, "ok \x00", b"bytes"]})
    assert out["drop_reason"] == ["clean.bad_text", "clean.bad_text", None, "clean.bad_text"]
    assert out["text"][2] == "ok"
    msgs = [[{"role": "user", "content": None}], "not a list", [{"role": "user", "content": "x"}]]
    out = FixText()({"messages": msgs})
    assert out["drop_reason"] == ["clean.bad_content:0", "clean.bad_messages", None]
    with pytest.raises(sd.RowError, match=r"clean\.bad_text"):
        fix_text(None)  # type: ignore[arg-type]


@pytest.mark.slow
def test_huge_and_hostile_strings_are_bounded() -> None:
    """10 MB strings are cleaned, or rejected with clean.too_long, within seconds."""
    cases = {
        "clean": ("plain words here\n" * 600_000, None),
        "nul": ("\x00a" * 5_000_000, None),
        "mojibake_one_line": ("CafÃ© " * 1_700_000, "clean.too_long"),
        "mojibake_lines": ("CafÃ© crÃ¨me\n" * 800_000, "clean.too_long"),
    }
    for name, (text, reason) in cases.items():
        start = time.perf_counter()
        out = FixText()({"text": [text]})
        assert time.perf_counter() - start < 30, name
        assert out["drop_reason"] == [reason], name
        if reason is None:
            assert "\x00" not in out["text"][0] and len(out["text"][0]) > 1_000_000


def test_repair_budget_counts_only_dirty_lines() -> None:
    """A big clean text with one mojibake line is repaired, not rejected."""
    text = "clean text line\n" * 200_000 + "CafÃ©"
    assert fix_text(text, max_repair_chars=100).endswith("clean text line\nCafé")
    with pytest.raises(sd.RowError, match=r"clean\.too_long"):
        fix_text("CafÃ© " * 50, max_repair_chars=100)


def test_messages_rows_and_roles() -> None:
    """Every message content is cleaned (or only ``roles``); other keys survive."""
    row = [
        {"role": "user", "content": "CafÃ©  ", "name": "u"},
        {"role": "assistant", "content": "crÃ¨me\u200b"},
    ]
    out = FixText()({"messages": [row], "id": [7]})
    assert out["messages"][0] == [
        {"role": "user", "content": "Café", "name": "u"},
        {"role": "assistant", "content": "crème"},
    ]
    assert out["id"] == [7] and row[0]["content"] == "CafÃ©  "  # input untouched
    only = FixText(roles=("assistant",))({"messages": [row]})["messages"][0]
    assert only[0]["content"] == "CafÃ©  " and only[1]["content"] == "crème"


def test_rows_already_rejected_pass_through() -> None:
    """A row that carries a drop_reason is not touched."""
    out = FixText()({"text": ["CafÃ©", None], "drop_reason": ["x.y", "x.z"]})
    assert out == {"text": ["CafÃ©", None], "drop_reason": ["x.y", "x.z"]}


@settings(max_examples=25)
@given(
    texts=st.lists(st.one_of(any_text, st.none()), min_size=1, max_size=12),
    size=st.integers(1, 5),
)
def test_batch_size_invariant(texts: list, size: int) -> None:
    """Running on slices of any size and concatenating equals one run on all rows."""
    step = FixText()
    whole = step({"text": texts})
    parts = [step({"text": texts[i : i + size]}) for i in range(0, len(texts), size)]
    assert whole == {k: [v for p in parts for v in p[k]] for k in whole}


def test_datasets_map_batch_sizes_agree() -> None:
    """datasets.map gives the same rows for batch sizes 1, 3 and all."""
    texts = ["CafÃ©  ", None, "ok", "a\u200bb\r\n", 5, "<b>x</b>"]
    features = datasets.Features({"text": datasets.Value("string")})
    ds = datasets.Dataset.from_dict({"text": [t if t != 5 else None for t in texts]}, features)
    ds = ds.add_column("drop_reason", [None] * len(ds), feature=datasets.Value("string"))
    outs = [
        ds.map(FixText(), batched=True, batch_size=b, keep_in_memory=True).to_list()
        for b in (1, 3, len(texts))
    ]
    assert outs[0] == outs[1] == outs[2]
    assert [r["drop_reason"] for r in outs[0]] == [
        None,
        "clean.bad_text",
        None,
        None,
        "clean.bad_text",
        None,
    ]


STEPS_SRC = (
    "[FixText(roles=('assistant',), strip_html=True), QualityFilter.chat(),"
    " QualityFilter(stop_words={'fr': ['le', 'la'], 'en': ['the', 'of']}), LangId(languages=('en',))]"
)


@pytest.mark.slow
def test_pickles_and_fingerprint_is_stable_across_processes() -> None:
    """Every clean step pickles, and its datasets fingerprint is the same in a fresh process."""
    from datasets.fingerprint import Hasher

    from sftdata.clean import LangId, QualityFilter

    steps = eval(STEPS_SRC, {"FixText": FixText, "QualityFilter": QualityFilter, "LangId": LangId})
    for step in steps:
        assert pickle.loads(pickle.dumps(step)) == step
    code = (
        "from datasets.fingerprint import Hasher; from sftdata.clean import *;"
        f"print(' '.join(Hasher.hash(s) for s in {STEPS_SRC}))"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.split() == [Hasher.hash(s) for s in steps]
