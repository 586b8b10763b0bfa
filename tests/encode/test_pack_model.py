"""Packing does not contaminate: a tiny real Llama gives each packed sample its solo loss."""

from __future__ import annotations

import pytest

import sftdata as sd

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

LENGTHS = [9, 4, 13, 6, 3, 11, 7, 5]


def _model(attn: str):  # type: ignore[no-untyped-def]
    config = transformers.LlamaConfig(
        vocab_size=97,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        attn_implementation=attn,
        # transformers only reads packing from position_ids when no KV cache is built
        # (training); with use_cache=True it silently attends across samples.
        use_cache=False,
    )
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config).eval()


def _samples() -> dict[str, list[list[int]]]:
    g = torch.Generator().manual_seed(1)
    ids = [torch.randint(3, 97, (n,), generator=g).tolist() for n in LENGTHS]
    # train on the second half of each sample, like an assistant answer after a prompt
    labels = [[-100] * (len(x) // 2) + x[len(x) // 2 :] for x in ids]
    return {"input_ids": ids, "labels": labels}


def _token_losses(logits, labels):  # type: ignore[no-untyped-def]
    """Per-position loss of predicting labels[t+1] from position t (transformers' shift), 0 where ignored."""
    shifted = labels[..., 1:]
    loss = torch.nn.functional.cross_entropy(
        logits[..., :-1, :].transpose(1, 2).double(), shifted.clamp(min=0), reduction="none"
    )
    return loss * (shifted != -100)


def _solo_losses(model, samples):  # type: ignore[no-untyped-def]
    out = []
    with torch.no_grad():
        for ids, labels in zip(samples["input_ids"], samples["labels"], strict=True):
            logits = model(input_ids=torch.tensor([ids])).logits
            out.append(_token_losses(logits, torch.tensor([labels])).sum().item())
    return out


def _packed_losses(model, batch, packed, *, with_mask: bool):  # type: ignore[no-untyped-def]
    kwargs = {"position_ids": batch["position_ids"]}
    if with_mask:
        kwargs["attention_mask"] = batch["attention_mask"]
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], **kwargs).logits
    per_token = _token_losses(logits, batch["labels"])
    losses = {}
    for r, (lens, src) in enumerate(zip(packed["seq_lens"], packed["source_rows"], strict=True)):
        start = 0
        for n, i in zip(lens, src, strict=True):
            # positions start..start+n-2 predict the tokens of this sample
            losses[i] = per_token[r, start : start + n - 1].sum().item()
            start += n
    return [losses[i] for i in range(len(LENGTHS))]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("attn", "layout", "mask_dtype"),
    [
        ("sdpa", "position_ids", "bool"),
        ("sdpa", "block_mask", "bool"),
        ("eager", "block_mask", "float32"),
        ("eager", "position_ids", "bool"),
    ],
)
def test_packed_per_sample_loss_equals_solo_loss(attn: str, layout: str, mask_dtype: str) -> None:
    """Each sample's loss inside a packed, padded batch equals its loss run alone and unpadded."""
    model = _model(attn)
    samples = _samples()
    packed, rejected = sd.pack(samples, max_length=20)
    assert not rejected["input_ids"]
    assert len(packed["input_ids"]) >= 2  # a padded tail exists in the shorter bin
    collate = sd.Collator(0, packed_attention=layout, block_mask_dtype=mask_dtype)  # type: ignore[arg-type]
    batch = collate([{k: packed[k][b] for k in packed} for b in range(len(packed["input_ids"]))])
    solo = _solo_losses(model, samples)
    got = _packed_losses(model, batch, packed, with_mask=layout == "block_mask")
    assert got == pytest.approx(solo, rel=1e-4, abs=1e-5)


@pytest.mark.slow
def test_packing_without_boundaries_would_contaminate() -> None:
    """Control: the same packed rows with plain causal attention over the whole row change the losses."""
    model = _model("sdpa")
    samples = _samples()
    packed, _ = sd.pack(samples, max_length=20)
    batch = sd.Collator(0)(
        [{k: packed[k][b] for k in packed} for b in range(len(packed["input_ids"]))]
    )
    batch["position_ids"] = torch.arange(batch["input_ids"].shape[1]).expand_as(batch["input_ids"])
    got = _packed_losses(model, batch, packed, with_mask=False)
    solo = _solo_losses(model, samples)
    first = {
        src[0] for src in packed["source_rows"]
    }  # the first sample of a row sees nothing before it
    assert all(got[i] == pytest.approx(solo[i], rel=1e-4) for i in first)
    assert any(
        got[i] != pytest.approx(solo[i], rel=1e-3) for i in range(len(LENGTHS)) if i not in first
    )
