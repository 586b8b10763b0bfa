"""ClassifierFilter: thresholding any scorer, including a real transformers pipeline."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sftdata import SftDataError
from sftdata.safety import ClassifierFilter, score_texts
from tests.safety.scorers import upper_share
from tests.strategies import conversations, plain_text


@given(st.lists(plain_text, max_size=10), st.floats(0.0, 1.0))
def test_text_rows_are_rejected_exactly_when_their_score_reaches_the_threshold(texts, threshold):
    """drop_reason is set iff scorer(text) >= threshold; kept + rejected == rows in."""
    out = ClassifierFilter(scorer=upper_share, threshold=threshold)({"text": texts})
    expected = ["safety.classifier" if s >= threshold else None for s in upper_share(texts)]
    assert out["drop_reason"] == expected and out["text"] == texts


@given(st.lists(conversations(text=plain_text), max_size=5), st.floats(0.0, 1.0))
def test_a_conversation_scores_as_its_worst_scored_message(convs, threshold):
    """With roles=('assistant',), a row is rejected iff some assistant message reaches the threshold."""
    step = ClassifierFilter(scorer=upper_share, threshold=threshold, roles=("assistant",))
    out = step({"messages": convs})
    for conv, reason in zip(convs, out["drop_reason"], strict=True):
        scores = upper_share([m["content"] for m in conv if m["role"] == "assistant"])
        assert (reason is not None) == any(s >= threshold for s in scores)


def top1(texts: list[str]) -> list[dict[str, object]]:
    """Like a default text-classification pipeline: only the top label per text."""
    return [{"label": "toxic" if "!" in t else "ok", "score": 0.9} for t in texts]


def all_labels(texts: list[str]) -> list[list[dict[str, object]]]:
    """Like a pipeline called with top_k=None: every label per text."""
    return [[{"label": "ok", "score": 0.3}, {"label": "toxic", "score": 0.7}] for _ in texts]


def test_label_dicts_and_label_lists_are_read():
    assert score_texts(["hey!", "hey"], top1, label="toxic") == [0.9, 0.0]
    assert score_texts(["x"], all_labels, label="toxic") == [0.7]
    with pytest.raises(SftDataError, match="set label="):
        score_texts(["x"], all_labels)


def test_bad_scorer_output_is_reported():
    with pytest.raises(SftDataError, match="returned 1 outputs for 2 texts"):
        score_texts(["a", "b"], lambda ts: [0.1])
    with pytest.raises(SftDataError, match="finite"):
        score_texts(["a"], lambda ts: [float("nan")])
    with pytest.raises(SftDataError, match="expected a number"):
        score_texts(["a"], lambda ts: ["high"])


def test_invalid_arguments_fail_at_construction():
    with pytest.raises(SftDataError, match="callable"):
        ClassifierFilter(scorer="toxic-bert")  # type: ignore[arg-type]
    with pytest.raises(SftDataError, match="finite"):
        ClassifierFilter(scorer=upper_share, threshold=float("inf"))
    with pytest.raises(SftDataError, match="unknown role"):
        ClassifierFilter(scorer=upper_share, roles=("bot",))
    with pytest.raises(SftDataError, match="non-empty"):
        ClassifierFilter(scorer=upper_share, reason="")


def test_step_with_module_level_scorer_pickles():
    step = ClassifierFilter(scorer=upper_share, threshold=0.5, reason="safety.shouting")
    again = pickle.loads(pickle.dumps(step))
    assert again({"text": ["HEY", "hey"]})["drop_reason"] == ["safety.shouting", None]


@pytest.mark.slow
def test_transformers_text_classification_pipeline_as_scorer():
    """A tiny real Llama classifier behind `pipeline(...)`: rejects == its own scores >= threshold."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        LlamaConfig,
        LlamaForSequenceClassification,
        PreTrainedTokenizerFast,
        pipeline,
    )

    texts = ["hello there", "you are awful", "the weather is fine", "stop it now", "ok"]
    words = sorted({w for t in texts for w in t.split()})
    vocab = {"[PAD]": 0, "[UNK]": 1, **{w: i + 2 for i, w in enumerate(words)}}
    word_level = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    word_level.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=word_level, pad_token="[PAD]", unk_token="[UNK]"
    )
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        num_labels=2,
        id2label={0: "ok", 1: "toxic"},
        label2id={"ok": 0, "toxic": 1},
        pad_token_id=0,
    )
    model = LlamaForSequenceClassification(config).eval()
    pipe = pipeline("text-classification", model=model, tokenizer=tokenizer, top_k=None)
    toxic = [next(d["score"] for d in out if d["label"] == "toxic") for out in pipe(texts)]
    threshold = sorted(toxic)[len(toxic) // 2]
    out = ClassifierFilter(scorer=pipe, label="toxic", threshold=threshold)({"text": texts})
    assert out["drop_reason"] == ["safety.classifier" if s >= threshold else None for s in toxic]
    assert 0 < out["drop_reason"].count(None) < len(texts)
