#!/usr/bin/env bash
# GPU checks that cannot run on the CPU CI: QLoRA (bitsandbytes 4-bit on CUDA),
# flash-attention 2 (if it is installed), DeepSpeed ZeRO-2 and ZeRO-3 on one GPU, a short
# DPO run (only if this build's TrainConfig has `stage`), and the memory planner's
# estimate against each run's measured peak (`mem_gb` in metrics.jsonl).
#
#   bash benchmarks/gpu_check.sh [OUT_DIR]      # ~5 min on one H100; prints one line per check
#
# Every check runs even if an earlier one failed; the last line counts passes and failures.
# Needs: a CUDA torch, bitsandbytes, deepspeed, mistral-common (for the tokenizer); no network.
set -u
OUT=${1:-${OUT:-/tmp/gpu_check}}
mkdir -p "$OUT"
export PYTHONPATH="$(pwd)/src${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
pass=0; fail=0
say() { echo "gpu_check: $*" | tee -a "$OUT/summary.txt"; }

python - "$OUT" <<'EOF' || { say "setup FAILED"; exit 1; }
import sys, pathlib, torch, mistral_common, sfttrain
out = pathlib.Path(sys.argv[1])
print("gpu_check: torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
sp = pathlib.Path(mistral_common.__file__).parent / "data" / "tokenizer.model.v1"
if not (out / "model" / "config.json").exists():  # a small Llama: 512 hidden, 4 layers
    sfttrain.tiny_llama(out / "model", tokenizer_path=sp, hidden_size=512, num_layers=4, num_heads=8)
EOF

config() {  # config NAME EXTRA_YAML -> writes $OUT/NAME.yaml
  cat > "$OUT/$1.yaml" <<EOF
model: $OUT/model
template: llama2
train_files:
  - {path: examples/data/chat_openai.jsonl, parser: openai}
  - {path: examples/data/chat_alpaca.jsonl, parser: alpaca}
max_length: 512
packing: true
max_steps: 30
batch_size: 4
logging_steps: 5
learning_rate: 2.0e-4
trackers: [jsonl]
progress_bar: false
resume: never
output_dir: $OUT/runs/$1
$2
EOF
}

check() {  # check NAME COMMAND...: run it, then compare the planner with the measured peak
  local name=$1; shift
  local t0=$(date +%s)
  if "$@" > "$OUT/$name.log" 2>&1; then
    local peak=$(python -c "import json,sys; r=[json.loads(l) for l in open('$OUT/runs/$name/metrics.jsonl')]; print(max(x.get('mem_gb',0) for x in r))" 2>/dev/null)
    local est=$(sfttrain plan "$OUT/$name.yaml" --gpu-memory 80GB --json 2>/dev/null | python -c "import json,sys; print(round(json.load(sys.stdin)['total_gb'],3))" 2>/dev/null)
    say "$name ok in $(( $(date +%s) - t0 ))s; measured peak ${peak:-?} GiB, planner ${est:-?} GiB"
    pass=$((pass + 1))
  else
    say "$name FAILED (see $OUT/$name.log):"; tail -5 "$OUT/$name.log" | sed 's/^/    /' | tee -a "$OUT/summary.txt"
    fail=$((fail + 1))
  fi
}

config qlora "method: qlora
quant: {quant_type: nf4, double_quant: true, compute_dtype: bfloat16}
precision: bf16
optim: paged_adamw_8bit
gradient_checkpointing: true"
check qlora sfttrain train "$OUT/qlora.yaml"

if python -c "import flash_attn" 2>/dev/null; then
  config flash2 "method: lora
precision: bf16
attn_implementation: flash_attention_2"
  check flash2 sfttrain train "$OUT/flash2.yaml"
else
  say "flash2 skipped: flash_attn is not installed (pip install flash-attn --no-build-isolation needs the network and nvcc)"
fi

for stage in 2 3; do
  config "zero$stage" "method: full
precision: bf16
deepspeed: $(pwd)/examples/ds_zero$stage.json"
  check "zero$stage" python -m torch.distributed.run --nproc_per_node 1 --master_port $((29600 + stage)) \
    -m sfttrain.cli train "$OUT/zero$stage.yaml"
done

if python -c "import dataclasses, sfttrain; import sys; sys.exit(0 if 'stage' in {f.name for f in dataclasses.fields(sfttrain.TrainConfig)} else 1)"; then
  python - "$OUT" <<'EOF'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
rows = [{"prompt": [{"role": "user", "content": f"What is {i} plus {i}?"}],
         "chosen": [{"role": "assistant", "content": f"{2 * i}."}],
         "rejected": [{"role": "assistant", "content": "I do not know."}]} for i in range(64)]
(out / "prefs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
EOF
  cat > "$OUT/dpo.yaml" <<EOF
model: $OUT/model
template: llama2
stage: dpo
train_files: [$OUT/prefs.jsonl]
max_length: 256
packing: false
max_steps: 10
batch_size: 4
logging_steps: 2
precision: bf16
trackers: [jsonl]
progress_bar: false
resume: never
output_dir: $OUT/runs/dpo
EOF
  check dpo sfttrain train "$OUT/dpo.yaml"
else
  say "dpo skipped: this build's TrainConfig has no 'stage' key"
fi

say "done: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
