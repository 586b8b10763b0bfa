"""A sweep of 4 training variants over 1 data variant vs 4 separate ``sfttrain train`` runs.

The sweep prepares the data once (``sftdata run``), encodes it once per process and loads
torch/transformers once; the separate runs each start a process, parse, filter, dedup and
encode the same files and train. Same tiny Llama, same steps, same LoRA ranks.

    python benchmarks/sweep.py [--steps 10]

Prints both wall times and their ratio (goal: the sweep >= 1.5x faster).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data"
RANKS = [4, 8, 16, 32]


def _base(model: Path, steps: int) -> dict:
    return {"model": str(model), "template": "llama2", "max_length": 256, "packing": True,
            "method": "lora", "max_steps": steps, "batch_size": 4, "logging_steps": 5,
            "learning_rate": 1e-2, "trackers": ["jsonl"], "progress_bar": False,
            "save_steps": 0, "resume": "never"}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    import mistral_common

    from sfttrain import tiny_llama
    from sfttrain.sweep import load_sweep, run_sweep

    tmp = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    sp = Path(mistral_common.__file__).parent / "data" / "tokenizer.model.v1"
    model = tiny_llama(tmp / "model", tokenizer_path=sp)
    sweep = {
        "out": str(tmp / "sweep"),
        "base": _base(model, args.steps),
        "pipeline": {
            "inputs": [
                {
                    "path": str(DATA / "chat_openai.jsonl"),
                    "source": "openai",
                    "parse": "parse.openai",
                }
            ],
            "steps": ["clean.fix_text", "dedup.exact"],
        },
        "eval": {"heldout": str(DATA / "heldout.jsonl")},
        "grid": {"lora.r": RANKS},
    }
    (tmp / "sweep.yaml").write_text(yaml.safe_dump(sweep))
    start = time.perf_counter()
    run_sweep(load_sweep(tmp / "sweep.yaml"), progress=False)
    t_sweep = time.perf_counter() - start
    start = time.perf_counter()
    for r in RANKS:
        cfg = {**_base(model, args.steps), "lora": {"r": r}, "output_dir": str(tmp / f"train{r}"),
               "train_files": [{"path": str(DATA / "chat_openai.jsonl"), "parser": "openai"}],
               "pipeline": ["clean.FixText"], "dedup": "exact"}  # fmt: skip
        path = tmp / f"train{r}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        subprocess.run([sys.executable, "-m", "sfttrain.cli", "train", str(path)], check=True,
                       capture_output=True)  # fmt: skip
        subprocess.run([sys.executable, "-m", "sfttrain.cli", "eval", str(tmp / f"train{r}" / "final"),
                        "--heldout", str(DATA / "heldout.jsonl")], check=True, capture_output=True)  # fmt: skip
    t_separate = time.perf_counter() - start
    print(f"sweep of {len(RANKS)} variants (1 data variant): {t_sweep:.1f} s")
    print(f"{len(RANKS)} separate sfttrain train + eval:        {t_separate:.1f} s")
    print(f"ratio separate / sweep: {t_separate / t_sweep:.2f}x")


if __name__ == "__main__":
    main()
