"""Inference: the template as data in exports, GGUF / bitsandbytes exports, fast decoding.

GGUF tolerances (per tensor, relative to its largest |w|): f32 exact; f16 2^-11 (half
a unit in the last place of a 10-bit mantissa); q8_0 1/127 (half a step of a block
scaled to ±127, with the f16 scale's rounding); q4_0 1/8 (a block is scaled so its largest |w| is level -8 of -8..7: the opposite
extreme clips to 7, a whole step off), with 1% slack for the f16 scale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sftdata as sd

from .infer_helpers import chats, exported, trained_folder

pytestmark = pytest.mark.slow

GGUF_TOL = {"f32": 0.0, "f16": 2.0**-11, "q8_0": 1 / 127, "q4_0": 1.01 / 8}


@pytest.fixture(scope="module")
def export_dir(tiny_model_dir: Path, tmp_path_factory: Any) -> Path:
    return exported(tiny_model_dir, tmp_path_factory)


@pytest.fixture(scope="module")
def loaded(export_dir: Path) -> Any:
    from sfttrain import load_for_inference

    return load_for_inference(export_dir)


def test_export_carries_the_template_as_data_and_generate_encodes_with_it(
    tiny_model_dir: Path, tmp_path_factory: Any
) -> None:
    """Property: the export's sftdata_template.json is the training template, and the
    prompt ids generate uses are the training ids' head, also for mistral, whose jinja
    tokenized as one string differs from training."""
    from sfttrain._generate import load_template, prompt_ids

    out = exported(tiny_model_dir, tmp_path_factory, "mistral")
    assert sd.templates.load(out) == sd.templates.get("mistral")
    (out / "sfttrain_template.json").unlink()  # the data file alone is enough
    from sfttrain import load_tokenizer

    tok = load_tokenizer(out)
    template = load_template(out, tok)
    conv = [
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Yo"},  # trained as its own piece: '▁Y', 'o'
        {"role": "user", "content": "And?"},
        {"role": "assistant", "content": "Done."},
    ]
    trained = sd.encode(conv, tok, "mistral", max_length=256)["input_ids"].tolist()
    prompt = prompt_ids(tok, template, conv[:3])
    assert trained[: len(prompt)] == prompt
    served = tok.apply_chat_template(conv[:3], tokenize=True, add_generation_prompt=True)
    served = list(served["input_ids"] if hasattr(served, "keys") else served)
    assert served != prompt  # what a jinja-rendering server would have sent instead


def _expected_names(layers: int) -> set[str]:
    per = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output"]
    per += ["ffn_norm", "ffn_gate", "ffn_up", "ffn_down"]
    names = {"token_embd.weight", "output_norm.weight", "output.weight"}
    return names | {f"blk.{i}.{p}.weight" for i in range(layers) for p in per}


@pytest.mark.parametrize("gguf_type", ["f32", "f16", "q8_0", "q4_0"])
def test_gguf_reads_back_with_llama_cpp_names_weights_and_metadata(
    export_dir: Path, gguf_type: str, tmp_path: Path
) -> None:
    """Property: GGUFReader finds llama.cpp's tensor names and shapes, weights within the
    type's tolerance of the source (Q/K rows permuted), and the metadata we wrote."""
    import sentencepiece as spm
    from gguf import GGUFReader, quants
    from safetensors.numpy import load_file

    from sfttrain import load_tokenizer, write_gguf
    from sfttrain._gguf import llama_tensor_name, permute_qk

    tok = load_tokenizer(export_dir)
    template = sd.templates.load(export_dir)
    path = write_gguf(
        export_dir,
        tmp_path / "m.gguf",
        gguf_type=gguf_type,
        chat_template=tok.chat_template,
        template_data=sd.templates.to_dict(template),
    )
    reader = GGUFReader(str(path))
    config = json.loads((export_dir / "config.json").read_text())
    source = {
        llama_tensor_name(k): v for k, v in load_file(str(export_dir / "model.safetensors")).items()
    }
    assert {t.name for t in reader.tensors} == _expected_names(config["num_hidden_layers"])
    for t in reader.tensors:
        want = source[t.name].astype(np.float32)
        if ".attn_q." in t.name:
            want = permute_qk(want, config["num_attention_heads"])
        elif ".attn_k." in t.name:
            want = permute_qk(want, config["num_key_value_heads"])
        shape = [int(x) for x in reversed(list(t.shape))]
        assert shape == list(want.shape), t.name
        got = quants.dequantize(t.data, t.tensor_type).reshape(shape)
        bound = GGUF_TOL[gguf_type] * float(np.abs(want).max()) + 1e-7
        assert float(np.abs(got - want).max()) <= bound, (t.name, t.tensor_type.name)

    def field(key: str) -> Any:
        return reader.fields[key].contents()

    sp = spm.SentencePieceProcessor(model_file=str(export_dir / "tokenizer.model"))
    assert field("general.architecture") == "llama"
    assert field("llama.block_count") == config["num_hidden_layers"]
    assert field("llama.attention.head_count_kv") == config["num_key_value_heads"]
    assert field("llama.rope.dimension_count") == config["head_dim"]
    assert field("tokenizer.ggml.model") == "llama"
    assert field("tokenizer.ggml.tokens") == [sp.id_to_piece(i) for i in range(sp.vocab_size())]
    assert field("tokenizer.ggml.scores")[:50] == pytest.approx(
        [sp.get_score(i) for i in range(50)]
    )
    assert field("tokenizer.ggml.bos_token_id") == tok.bos_token_id
    assert field("tokenizer.ggml.eos_token_id") == tok.eos_token_id
    assert field("tokenizer.chat_template") == tok.chat_template
    assert sd.templates.from_dict(json.loads(field("sftdata.template"))) == template


def test_qk_permutation_turns_rotate_half_rope_into_interleaved_rope() -> None:
    """Property: RoPE applied rotate-half style (HF) to W·x equals RoPE applied to
    interleaved pairs (llama.cpp) to permute_qk(W)·x, up to the same row permutation."""
    from sfttrain._gguf import permute_qk

    rng = np.random.default_rng(0)
    heads, dim, hidden, pos = 2, 8, 6, 5
    w, x = rng.normal(size=(heads * dim, hidden)), rng.normal(size=hidden)
    theta = pos * 10000.0 ** (-np.arange(0, dim, 2) / dim)
    cos, sin = np.cos(theta), np.sin(theta)

    def hf(q: Any) -> Any:  # rotate_half: pairs (i, i + d/2)
        a, b = q[: dim // 2], q[dim // 2 :]
        return np.concatenate([a * cos - b * sin, b * cos + a * sin])

    def ggml(q: Any) -> Any:  # normal RoPE: pairs (2i, 2i + 1)
        a, b = q[0::2], q[1::2]
        out = np.empty_like(q)
        out[0::2], out[1::2] = a * cos - b * sin, b * cos + a * sin
        return out

    for h in range(heads):
        rows = slice(h * dim, (h + 1) * dim)
        ours = hf(w[rows] @ x)
        theirs = ggml((permute_qk(w, heads) @ x)[rows])
        assert np.allclose(permute_qk(ours[None].T, 1)[:, 0], theirs)


@pytest.mark.parametrize("fmt", ["bnb4", "bnb8"])
def test_bitsandbytes_export_reloads_quantized_and_generates(
    tiny_model_dir: Path, tmp_path_factory: Any, fmt: str
) -> None:
    """Property: a bnb4/bnb8 export reloads with from_pretrained as bitsandbytes layers whose
    logits stay close to the full-precision model's, and `generate` answers."""
    import bitsandbytes as bnb
    import torch
    from transformers import AutoModelForCausalLM

    from sfttrain import generate

    out = exported(tiny_model_dir, tmp_path_factory, format=fmt)
    model = AutoModelForCausalLM.from_pretrained(str(out))
    layer = model.model.layers[0].self_attn.q_proj
    assert isinstance(layer, bnb.nn.Linear4bit if fmt == "bnb4" else bnb.nn.Linear8bitLt)
    assert json.loads((out / "config.json").read_text())["quantization_config"]
    full = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    ids = torch.tensor([[1, 415, 2936, 9060, 285, 1142, 461]])
    with torch.no_grad():
        a, b = full(input_ids=ids).logits, model(input_ids=ids).logits.float()
    assert float((a - b).norm() / a.norm()) < (0.25 if fmt == "bnb4" else 0.05)
    replies = generate(out, chats()[:2], max_new_tokens=4)
    assert len(replies) == 2 and all(isinstance(r, str) for r in replies)


def test_assisted_and_prompt_lookup_greedy_equal_plain_greedy(
    loaded: Any, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Property: greedy replies with a draft model, with prompt lookup and with a static
    cache are identical to plain greedy replies."""
    from sfttrain import DecodeOptions, generate_replies, tiny_llama
    from sfttrain._decoding import load_model

    model, tok, template = loaded
    draft_dir = tiny_llama(
        tmp_path / "draft", tokenizer_path=tiny_model_dir, num_layers=1, hidden_size=64, seed=1
    )
    draft = load_model(str(draft_dir))
    convs = [*chats()[:3], [{"role": "user", "content": "hi hi hi hi hi hi hi hi"}]]

    def run(options: Any = None, draft_model: Any = None) -> list[str]:
        return generate_replies(
            model, tok, template, convs, max_new_tokens=12, options=options, draft_model=draft_model
        )

    plain = run()
    assert run(DecodeOptions(draft=str(draft_dir)), draft) == plain
    assert run(DecodeOptions(prompt_lookup=3)) == plain
    assert run(DecodeOptions(cache="static")) == plain


def test_quantized_kv_cache_generates_the_asked_length(loaded: Any) -> None:
    """Property: with the hqq 4-bit KV cache, generation returns max_new_tokens tokens per
    row (EOS suppressed) and its first token equals plain greedy's (same prefill logits)."""
    from sfttrain import DecodeOptions
    from sfttrain._generate import generate_ids, prompt_ids

    model, tok, template = loaded
    prompts = [prompt_ids(tok, template, c) for c in chats()[:3]]
    kw = {"max_new_tokens": 8, "suppress_tokens": [tok.eos_token_id]}
    plain = generate_ids(model, tok, prompts, **kw)
    extra = DecodeOptions(cache="quantized", kv_bits=4).generate_kwargs()
    quant = generate_ids(model, tok, prompts, extra=extra, **kw)
    assert [len(r) for r in quant] == [8, 8, 8]
    assert [r[0] for r in quant] == [r[0] for r in plain]


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"cache": "paged"}, "cache"),
        ({"compile": True}, "compile"),
        ({"kv_bits": 3}, "kv_bits"),
        ({"draft": "d", "prompt_lookup": 2}, "draft"),
        ({"attn_implementation": "flash"}, "attn_implementation"),
    ],
)
def test_bad_decode_options_name_the_key(kwargs: dict[str, Any], needle: str) -> None:
    """Property: a bad decoding option is a ValueError naming it, before any model loads."""
    from sfttrain import DecodeOptions

    with pytest.raises(ValueError, match=needle):
        DecodeOptions(**kwargs)


def test_cli_export_gguf_and_generate_with_prompt_lookup(
    tiny_model_dir: Path, tmp_path: Path, capsys: Any
) -> None:
    """Property: `sfttrain export --format gguf` writes the file; `sfttrain generate
    --prompt-lookup` answers each prompt; bad flags exit 2 with the key named."""
    from sfttrain.cli import main

    src = trained_folder(tiny_model_dir, tmp_path / "final")
    out = tmp_path / "export"
    assert main(["export", str(src), str(out), "--format", "gguf", "--gguf-type", "q8_0"]) == 0
    assert (out / "model-q8_0.gguf").is_file() and (out / "sftdata_template.json").is_file()
    capsys.readouterr()
    args = ["generate", str(out), "--prompt", "hi", "--prompt", "Two plus two?"]
    assert main([*args, "--prompt-lookup", "2", "--max-new-tokens", "4"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["prompt"] for x in lines] == ["hi", "Two plus two?"]
    assert main([*args, "--compile"]) == 2
    assert "compile" in capsys.readouterr().err
