"""``sfttrain demo``: the whole path on the shipped demo data, in a few minutes on a CPU.

::

    examples/data/chat_*.jsonl  (openai, alpaca, sharegpt, dolly rows; some broken on purpose)
      -> parse -> clean (FixText) -> safety (PIIFilter) -> dedup (exact, MinHash)
      -> template (llama2) + encode -> pack
      -> LoRA-train a tiny Llama built from a config (real 32k sentencepiece vocabulary)
      -> eval (held-out loss before/after, multiple choice, generation) -> export -> generate
      -> evaluation matrix: base vs fine-tuned (accuracy, robustness, calibration, safety, ...)

Every stage prints how many rows it kept and why it dropped the others.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sftdata as sd
from sftdata import DROP_REASON
from sftdata._rejects import REJECTED_BY, ROW_LOCATION, rejects_row

DEMO_FILES = (
    ("chat_openai.jsonl", "openai"),
    ("chat_alpaca.jsonl", "alpaca"),
    ("chat_sharegpt.jsonl", "sharegpt"),
    ("chat_dolly.jsonl", "dolly"),
)
MAX_LENGTH = 256


def _default_data_dir() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "examples" / "data"
        if candidate.is_dir():
            return candidate
    return Path("examples/data")


def _sentencepiece_model() -> Path:
    try:
        import mistral_common
    except ImportError:
        raise sd.SftDataError(
            "demo: needs a Llama-family tokenizer.model; pip install mistral-common "
            "(it ships one) or build the tiny model yourself with sfttrain.tiny_llama"
        ) from None
    return Path(mistral_common.__file__).parent / "data" / "tokenizer.model.v1"


def _stage(echo: Callable[[str], None], name: str, before: int, ds: Any, extra: str = "") -> None:
    counts = sd.Counters.from_dataset(ds) if DROP_REASON in ds.column_names else None
    kept = counts.kept if counts else len(ds)
    why = ", ".join(f"{r} {n}" for r, n in counts.dropped.items()) if counts else ""
    line = f"{name:<10} {before:>4} -> {kept:>4} rows"
    echo(line + (f"   dropped: {why}" if why else "") + (f"   {extra}" if extra else ""))


def prepare_demo_rows(
    data_dir: Path, echo: Callable[[str], None], rejects: list[Any] | None = None
) -> Any:
    """Parse, clean, redact and dedup the demo files; returns the kept ``messages`` rows.

    Every row a stage drops is appended to ``rejects`` (one dataset per stage, each row
    with its ``drop_reason``), so nothing leaves the demo without a trace.
    """
    import datasets

    from sfttrain._data import parse_file

    rejects = [] if rejects is None else rejects
    parts = [parse_file(str(data_dir / name), parser) for name, parser in DEMO_FILES]
    ds = datasets.concatenate_datasets(parts)
    _stage(echo, "parse", len(ds), ds)
    kept = _keep(ds, rejects, "parse")
    before = [str(m) for m in kept["messages"]]
    cleaned = sd.apply(kept, sd.clean.FixText())
    changed = sum(a != str(b) for a, b in zip(before, cleaned["messages"], strict=True))
    _stage(echo, "clean", len(kept), cleaned, f"texts fixed in {changed} rows")
    kept = _keep(cleaned, rejects, "clean.FixText")
    before = [str(m) for m in kept["messages"]]
    safe = sd.apply(kept, sd.safety.PIIFilter())
    redacted = sum(a != str(b) for a, b in zip(before, safe["messages"], strict=True))
    _stage(echo, "safety", len(kept), safe, f"PII redacted in {redacted} rows")
    kept = _keep(safe, rejects, "safety.PIIFilter")
    exact, rejected = sd.dedup.exact_dedup(kept)
    rejects.append(_rejected_by(rejected, "dedup.exact"))
    _stage(echo, "dedup", len(kept), exact, f"exact copies {len(rejected)}")
    near, rejected = sd.dedup.minhash_dedup(exact, threshold=0.7)
    rejects.append(_rejected_by(rejected, "dedup.near"))
    _stage(echo, "near-dedup", len(exact), near, f"near copies {len(rejected)}")
    return near.select_columns(["messages", *(c for c in TRACE if c in near.column_names)])


TRACE = ("source", ROW_LOCATION)  # where each row came from, kept up to the encoder


def _keep(ds: Any, rejects: list[Any], stage: str) -> Any:
    kept, rejected = sd.split_rejects(ds)
    rejects.append(_rejected_by(rejected, stage))
    return kept


def _rejected_by(rejected: Any, stage: str) -> Any:
    """``rejected`` with ``rejected_by`` filled in (``stage`` where no step named itself)."""
    if not len(rejected):
        return rejected
    old = rejected[REJECTED_BY] if REJECTED_BY in rejected.column_names else [None] * len(rejected)
    if REJECTED_BY in rejected.column_names:
        rejected = rejected.remove_columns(REJECTED_BY)
    return rejected.add_column(REJECTED_BY, [b or stage for b in old])


def _save_rejects(rejects: list[Any], path: Path) -> int:
    """Write every rejected row as JSON lines in the rejects format of ``sftdata run``
    (``drop_reason, rejected_by, source, location, raw``, then the row); returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for ds in rejects:
            for row in ds.to_list():
                f.write(json.dumps(rejects_row(row), ensure_ascii=False, default=str) + "\n")
                n += 1
    return n


def demo(
    *,
    out_dir: str | Path = "runs/demo",
    data_dir: str | Path | None = None,
    steps: int = 30,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the demo end to end; returns the stage counts, losses and eval results."""
    from sfttrain._data import Prepared, pack_rows
    from sfttrain._model import load_tokenizer, tiny_llama

    if steps < 1:
        raise ValueError(f"demo: steps must be >= 1, got {steps}")
    out = Path(out_dir)
    data = Path(data_dir) if data_dir is not None else _default_data_dir()
    if not (data / DEMO_FILES[0][0]).is_file():
        raise FileNotFoundError(f"demo: no demo data in {str(data)!r} (give --data)")
    base = tiny_llama(out / "base", tokenizer_path=_sentencepiece_model())
    tokenizer = load_tokenizer(base)
    rejects: list[Any] = []
    rows = prepare_demo_rows(data, echo, rejects)
    encoded = sd.apply(
        rows, sd.Encode(tokenizer, "llama2", max_length=MAX_LENGTH), remove_columns=["messages"]
    )
    _stage(echo, "encode", len(rows), encoded, "template llama2")
    kept = _keep(encoded, rejects, "encode")
    n = _save_rejects(rejects, out / "rejects.jsonl")
    echo(f"{'rejects':<10} {n:>4} rows with their reasons in {out / 'rejects.jsonl'}")
    packed, eff = pack_rows(kept, MAX_LENGTH)
    echo(
        f"{'pack':<10} {len(kept):>4} -> {len(packed):>4} rows   fill {eff:.0%} of {MAX_LENGTH} tokens"
    )
    held = [sd.encode(m, tokenizer, "llama2", max_length=MAX_LENGTH) for m in _heldout(data)]
    before = _heldout_loss(base, held, tokenizer)
    result = _train(base, out, steps, Prepared(train=packed, eval=None, pack_efficiency=eff))
    echo(
        f"{'train':<10} loss {result.losses[0]:.3f} -> {result.final_loss:.3f} in {result.steps} steps"
    )
    report = _after_training(result, out, data, held, before, tokenizer, echo)
    # --- evaluation matrix: base vs fine-tuned (sfttrain.evals) ---
    from sfttrain.evals._demo_suite import demo_matrix

    report["matrix"] = demo_matrix(base, Path(report["export"]), data, out / "matrix", echo)
    return report


def _heldout(data: Path) -> list[Any]:
    from sfttrain._data import parse_file

    kept, _ = sd.split_rejects(parse_file(str(data / "heldout.jsonl"), None))
    return list(kept["messages"])


def _heldout_loss(model_dir: Path, rows: list[Any], tokenizer: Any) -> float:
    from transformers import AutoModelForCausalLM

    from sfttrain._eval import heldout_loss

    model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    return heldout_loss(model, rows, pad_token_id=tokenizer.pad_token_id)["loss"]


def _train(base: Path, out: Path, steps: int, prepared: Any) -> Any:
    from sfttrain._train import train
    from sfttrain.config import TrainConfig

    cfg = TrainConfig.from_dict(
        {
            "model": str(base),
            "train_files": ["examples/data/chat_openai.jsonl"],  # data comes in `prepared`
            "output_dir": str(out / "run"),
            "template": "llama2",
            "method": "lora",
            # the tiny model's output layer is random: train it in full next to the adapters
            "lora": {"r": 16, "alpha": 32, "dropout": 0.0, "modules_to_save": ["lm_head"]},
            "max_length": MAX_LENGTH,
            "max_steps": steps,
            "batch_size": 4,
            "learning_rate": 1e-2,
            "warmup": 0.05,
            "logging_steps": max(1, steps // 10),
            "save_steps": max(1, steps // 2),
            "resume": "never",
            "trackers": ["tensorboard", "jsonl"],
        }
    )
    return train(cfg, prepared=prepared)


def _after_training(
    result: Any,
    out: Path,
    data: Path,
    held: list[Any],
    before: float,
    tokenizer: Any,
    echo: Callable[[str], None],
) -> dict[str, Any]:
    from sfttrain._eval import evaluate
    from sfttrain._export import export
    from sfttrain._generate import generate

    exported = export(result.final_dir, out / "export")
    after = _heldout_loss(exported, held, tokenizer)
    echo(f"{'eval':<10} held-out loss {before:.3f} -> {after:.3f}")
    scores = evaluate(
        exported,
        choices=data / "eval_choices.jsonl",
        generation=data / "eval_qa.jsonl",
        max_length=MAX_LENGTH,
    )
    echo(f"{'eval':<10} multiple choice acc {scores['choices']['acc']:.2f}, "
         f"generation contains {scores['generation']['contains']:.2f}")  # fmt: skip
    echo(f"{'export':<10} {exported} (safetensors, chat_template = llama2)")
    prompts = ["What is 6 plus 3?", "What is the capital of Peru?", "What is the opposite of fast?"]
    replies = generate(
        exported, [[{"role": "user", "content": p}] for p in prompts], max_new_tokens=16
    )
    for p, r in zip(prompts, replies, strict=True):
        echo(f"{'generate':<10} {p!r} -> {r!r}")
    return {
        "losses": result.losses,
        "heldout_before": before,
        "heldout_after": after,
        "eval": scores,
        "export": str(exported),
        "replies": replies,
    }
