"""GGUF export of a Llama-family model folder with the ``gguf`` package's Python writer.

Tensor names, the Q/K row order and the metadata follow llama.cpp's own converter
(``convert_hf_to_gguf.py``, ``LlamaModel``)::

    model.embed_tokens.weight                 -> token_embd.weight
    model.layers.N.self_attn.q_proj.weight    -> blk.N.attn_q.weight     (rows permuted)
    model.layers.N.self_attn.k_proj.weight    -> blk.N.attn_k.weight     (rows permuted)
    model.layers.N.self_attn.v_proj / o_proj  -> blk.N.attn_v / attn_output
    model.layers.N.mlp.gate/up/down_proj      -> blk.N.ffn_gate / ffn_up / ffn_down
    model.layers.N.input / post_attention_layernorm -> blk.N.attn_norm / ffn_norm
    model.norm.weight, lm_head.weight         -> output_norm.weight, output.weight

HF stores each Q/K head's rotary halves as ``[x0..x(d/2-1), x(d/2)..]`` (rotate-half);
llama.cpp rotates interleaved pairs, so the rows of each head are reordered
``(2, d/2) -> (d/2, 2)``. Types: ``f32``, ``f16``, ``q8_0``, ``q4_0`` (the ``gguf``
package quantizes these in NumPy; it has no K-quant quantizer, so ``q4_k`` is not
offered). Norms and other 1-D tensors stay f32; a 2-D tensor whose rows do not split
into the type's blocks falls back to f16, as llama.cpp's own quantizer does.
The vocabulary comes from the sentencepiece ``tokenizer.model`` (pieces, scores,
token types) plus the tokenizer's added tokens; the chat template is the training
template's jinja, and ``sftdata.template`` holds the template itself as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["GGUF_TYPES", "llama_tensor_name", "permute_qk", "write_gguf"]

GGUF_TYPES = ("f32", "f16", "q8_0", "q4_0")

_LAYER = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
}
_TOP = {
    "model.embed_tokens": "token_embd",
    "model.norm": "output_norm",
    "lm_head": "output",
}


def llama_tensor_name(hf_name: str) -> str | None:
    """llama.cpp's name for an HF Llama tensor; ``None`` for one llama.cpp does not load.

    >>> llama_tensor_name("model.layers.3.self_attn.q_proj.weight")
    'blk.3.attn_q.weight'
    >>> llama_tensor_name("model.layers.0.self_attn.rotary_emb.inv_freq") is None
    True
    """
    base, _, kind = hf_name.rpartition(".")
    if base in _TOP:
        return f"{_TOP[base]}.{kind}"
    parts = base.split(".", 3)
    if len(parts) == 4 and parts[:2] == ["model", "layers"] and parts[3] in _LAYER:
        return f"blk.{parts[2]}.{_LAYER[parts[3]]}.{kind}"
    return None


def permute_qk(weight: Any, n_head: int) -> Any:
    """Rows of a Q or K projection reordered from rotate-half to interleaved pairs.

    >>> import numpy as np
    >>> permute_qk(np.arange(4)[:, None], 1)[:, 0].tolist()
    [0, 2, 1, 3]
    """
    rows = weight.shape[0]
    return (
        weight.reshape(n_head, 2, rows // n_head // 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def write_gguf(
    model_dir: str | Path,
    out_path: str | Path,
    *,
    gguf_type: str = "f16",
    chat_template: str | None = None,
    template_data: dict[str, Any] | None = None,
) -> Path:
    """Write the Llama model saved in ``model_dir`` (safetensors) as one GGUF file.

    ``chat_template`` (jinja) and ``template_data`` (:func:`sftdata.templates.to_dict`)
    go into the metadata; with a chat template, BOS is the template's to add.
    """
    import gguf

    if gguf_type not in GGUF_TYPES:
        raise ValueError(f"gguf_type: got {gguf_type!r}; allowed: {', '.join(GGUF_TYPES)}")
    folder = Path(model_dir)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type") not in ("llama", "mistral"):
        raise ValueError(
            f"GGUF export supports Llama-family models; this one is {config.get('model_type')!r}"
        )
    writer = gguf.GGUFWriter(str(out_path), "llama")
    _write_config(writer, config, gguf_type)
    _write_vocab(writer, folder, int(config["vocab_size"]), chat_template)
    if template_data is not None:
        writer.add_string("sftdata.template", json.dumps(template_data))
    for name, array in _tensors(folder, config):
        _add_tensor(writer, name, array, gguf_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(out_path)


def _rope_theta(config: dict[str, Any]) -> float:
    params = config.get("rope_parameters") or config.get("rope_scaling") or {}
    kind = params.get("rope_type", params.get("type", "default"))
    if kind not in ("default", None):
        raise ValueError(f"GGUF export: rope type {kind!r} is not supported (only default)")
    return float(params.get("rope_theta", config.get("rope_theta", 10000.0)))


def _write_config(writer: Any, config: dict[str, Any], gguf_type: str) -> None:
    import gguf

    heads = int(config["num_attention_heads"])
    head_dim = int(config.get("head_dim") or config["hidden_size"] // heads)
    writer.add_name("sfttrain export")
    writer.add_context_length(int(config["max_position_embeddings"]))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_block_count(int(config["num_hidden_layers"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(heads)
    writer.add_head_count_kv(int(config.get("num_key_value_heads") or heads))
    writer.add_layer_norm_rms_eps(float(config["rms_norm_eps"]))
    writer.add_rope_freq_base(_rope_theta(config))
    writer.add_rope_dimension_count(head_dim)
    writer.add_vocab_size(int(config["vocab_size"]))
    file_types = {"f32": "ALL_F32", "f16": "MOSTLY_F16", "q8_0": "MOSTLY_Q8_0"}
    writer.add_file_type(getattr(gguf.LlamaFileType, file_types.get(gguf_type, "MOSTLY_Q4_0")))


def _tensors(folder: Path, config: dict[str, Any]) -> Any:
    """(gguf name, float32 array) of each weight llama.cpp loads, Q/K permuted."""
    import numpy as np
    from safetensors.numpy import load_file

    heads = int(config["num_attention_heads"])
    kv_heads = int(config.get("num_key_value_heads") or heads)
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"GGUF export: no *.safetensors in {str(folder)!r}")
    seen: set[str] = set()
    for file in files:
        for hf_name, array in load_file(str(file)).items():
            name = llama_tensor_name(hf_name)
            if name is None:
                continue
            data = np.asarray(array, dtype=np.float32)
            if ".attn_q." in name:
                data = permute_qk(data, heads)
            elif ".attn_k." in name:
                data = permute_qk(data, kv_heads)
            seen.add(name)
            yield name, data
    if "token_embd.weight" not in seen:
        raise ValueError(f"GGUF export: no embedding weights in {str(folder)!r}")


def _add_tensor(writer: Any, name: str, data: Any, gguf_type: str) -> None:
    import gguf
    import numpy as np

    qtypes = {"q8_0": gguf.GGMLQuantizationType.Q8_0, "q4_0": gguf.GGMLQuantizationType.Q4_0}
    if data.ndim == 1 or gguf_type == "f32":
        writer.add_tensor(name, data.astype(np.float32))
        return
    qtype = qtypes.get(gguf_type)
    block = gguf.GGML_QUANT_SIZES[qtype][0] if qtype is not None else 0
    if qtype is None or data.shape[-1] % block:
        writer.add_tensor(name, data.astype(np.float16))
        return
    # The writer reads the element shape back from the packed bytes' shape.
    writer.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)


def _write_vocab(writer: Any, folder: Path, vocab_size: int, chat_template: str | None) -> None:
    """SentencePiece vocabulary (pieces, scores, types), special ids, chat template."""
    import gguf
    import sentencepiece as spm

    from sfttrain._model import load_tokenizer

    model_file = folder / "tokenizer.model"
    if not model_file.is_file():
        raise FileNotFoundError(
            f"GGUF export needs the sentencepiece tokenizer.model in {str(folder)!r}"
        )
    sp = spm.SentencePieceProcessor(model_file=str(model_file))
    kinds = gguf.TokenType
    tokens, scores, types = [], [], []
    for i in range(sp.vocab_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(float(sp.get_score(i)))
        types.append(
            kinds.UNKNOWN
            if sp.is_unknown(i)
            else kinds.CONTROL
            if sp.is_control(i)
            else kinds.BYTE
            if sp.is_byte(i)
            else kinds.UNUSED
            if sp.is_unused(i)
            else kinds.NORMAL
        )
    tok = load_tokenizer(folder)
    added = sorted((i, t) for i, t in (tok.added_tokens_decoder or {}).items() if i >= len(tokens))
    for i, t in added:
        if i != len(tokens):
            break
        tokens.append(str(t))
        scores.append(-1000.0)
        types.append(kinds.CONTROL if getattr(t, "special", False) else kinds.USER_DEFINED)
    while len(tokens) < vocab_size:  # embedding rows beyond the vocabulary
        tokens.append(f"[PAD{len(tokens)}]")
        scores.append(-1000.0)
        types.append(kinds.UNUSED)
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens[:vocab_size])
    writer.add_token_scores(scores[:vocab_size])
    writer.add_token_types(types[:vocab_size])
    for attr, add in (
        ("bos_token_id", writer.add_bos_token_id),
        ("eos_token_id", writer.add_eos_token_id),
        ("unk_token_id", writer.add_unk_token_id),
        ("pad_token_id", writer.add_pad_token_id),
    ):
        value = getattr(tok, attr, None)
        if value is not None:
            add(int(value))
    # The chat template renders BOS itself: the prompt must not get a second one.
    writer.add_add_bos_token(chat_template is None)
    writer.add_add_eos_token(False)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
