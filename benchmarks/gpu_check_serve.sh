#!/usr/bin/env bash
# GPU checks of inference and deployment (not run in CI; CPU machines skip them).
#
#   bash benchmarks/gpu_check_serve.sh EXPORT_DIR [PORT]
#
# EXPORT_DIR: an `sfttrain export` folder (merged safetensors + tokenizer + chat template
# + sftdata_template.json). Needs one CUDA GPU. Each step prints what it checks; the
# script stops at the first failure. Servers listen on 127.0.0.1 only.
set -euo pipefail
EXPORT=${1:?usage: gpu_check_serve.sh EXPORT_DIR [PORT]}
PORT=${2:-8011}
OUT=${OUT:-runs/gpu_check_serve}
mkdir -p "$OUT"
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU'; print(torch.cuda.get_device_name(0))"

echo "== 1. flash-attention 2 and static cache + torch.compile in sfttrain generate"
pip install -q flash-attn --no-build-isolation || echo "flash-attn did not install: skipping --attn flash_attention_2"
if python -c "import flash_attn" 2>/dev/null; then
  sfttrain generate "$EXPORT" --prompt "Name a primary colour." --attn flash_attention_2
fi
sfttrain generate "$EXPORT" --prompt "Name a primary colour." --cache static --compile
sfttrain generate "$EXPORT" --prompt "Name a primary colour." --cache quantized --kv-backend quanto --kv-bits 4
python benchmarks/generate.py --hidden 1024 --layers 8 --new-tokens 128 | tee "$OUT/generate.txt"

echo "== 2. AWQ and GPTQ 4-bit weights (W4A16) of the export"
pip install -q autoawq gptqmodel || true
python - "$EXPORT" "$OUT" <<'PY'
import sys, json
from pathlib import Path
export, out = Path(sys.argv[1]), Path(sys.argv[2])
import sftdata as sd
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained(export)
template = sd.templates.load(export)
rows = [json.loads(l)["messages"] for l in Path("examples/data/heldout.jsonl").read_text().splitlines()]
calib = [tok.decode(sd.templates.token_ids(template.segments(m), tok)) for m in rows[:64]]
try:  # GPTQ through transformers' GPTQConfig (gptqmodel backend)
    from transformers import AutoModelForCausalLM, GPTQConfig
    q = AutoModelForCausalLM.from_pretrained(export, device_map="cuda:0",
        quantization_config=GPTQConfig(bits=4, dataset=calib, tokenizer=tok))
    q.save_pretrained(out / "gptq"); tok.save_pretrained(out / "gptq")
    print("GPTQ 4-bit saved:", out / "gptq")
except Exception as e:
    print("GPTQ failed:", type(e).__name__, e)
try:  # AWQ with AutoAWQ, calibrated on the training-format rows
    from awq import AutoAWQForCausalLM
    m = AutoAWQForCausalLM.from_pretrained(str(export))
    m.quantize(tok, quant_config={"w_bit": 4, "q_group_size": 128, "zero_point": True, "version": "GEMM"},
               calib_data=calib)
    m.save_quantized(str(out / "awq")); tok.save_pretrained(out / "awq")
    print("AWQ 4-bit saved:", out / "awq")
except Exception as e:
    print("AWQ failed:", type(e).__name__, e)
PY
for q in gptq awq; do
  if [ -d "$OUT/$q" ]; then
    cp "$EXPORT"/sftdata_template.json "$EXPORT"/sfttrain_template.json "$OUT/$q/" 2>/dev/null || true
    sfttrain generate "$OUT/$q" --prompt "Name a primary colour."
  fi
done

echo "== 3. sfttrain serve (hf engine) and its benchmark on the GPU"
python benchmarks/serve.py --requests 32 --max-tokens 64 --hidden 1024 --layers 8 | tee "$OUT/serve.txt"

echo "== 4. sfttrain serve --engine vllm: vLLM's OpenAI server with the export's chat template"
pip install -q vllm || { echo "vllm did not install"; exit 1; }
sfttrain serve "$EXPORT" --engine vllm --host 127.0.0.1 --port "$PORT" --model-name export &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 180); do curl -sf "http://127.0.0.1:$PORT/v1/models" >/dev/null && break; sleep 2; done
python - "$PORT" "$EXPORT" <<'PY'
import sys
import openai
from sfttrain import generate
port, export = sys.argv[1], sys.argv[2]
c = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x")
msgs = [{"role": "user", "content": "Name a primary colour."}]
r = c.chat.completions.create(model="export", messages=msgs, max_tokens=16, temperature=0)
ours = generate(export, [msgs], max_new_tokens=16)[0]
print("vllm:", repr(r.choices[0].message.content), "| sfttrain generate:", repr(ours))
# vLLM renders the jinja chat_template and tokenizes it as one string: token-exact with
# training only for templates outside JINJA_NOT_TOKEN_EXACT (README, tests/templates/test_inference_format.py).
PY
kill $PID; wait $PID 2>/dev/null || true
echo "gpu_check_serve: done"
