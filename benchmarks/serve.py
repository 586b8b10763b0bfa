"""Throughput and latency of `sfttrain serve`: dynamic batching vs one request at a time.

    python benchmarks/serve.py [--requests 32] [--max-tokens 32] [--hidden 64] [--layers 2]

One process: a tiny Llama (real 32k sentencepiece vocabulary, llama2 template) exported
by ``sfttrain export``, served by ``create_app`` under uvicorn on 127.0.0.1, queried by
the official ``openai`` client. ``--requests`` greedy chat requests are sent all at once
(one thread each), first to a server that batches (``max_batch`` 32), then to one that
decodes one request at a time (``max_batch`` 1); EOS is never reached by the random
model within ``--max-tokens``, so both decode the same number of tokens. Throughput is
completion tokens / wall seconds; latency is each request's time from send to answer.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

PROMPTS = [
    "What colour is the sky?",
    "Two plus two?",
    "Capital of France?",
    "Say hello.",
    "Opposite of hot?",
    "Name a fruit.",
    "Count to three, slowly, and then say the word done twice.",
    "Tell me about rivers and the stones under old bridges.",
]


def _export(root: Path, hidden: int, layers: int) -> Path:
    import mistral_common

    import sftdata as sd
    from sfttrain import export, tiny_llama
    from sfttrain._generate import save_template_name

    sp = Path(mistral_common.__file__).parent / "data" / "tokenizer.model.v1"
    model = tiny_llama(root / "final", tokenizer_path=sp, hidden_size=hidden, num_layers=layers)
    save_template_name(model, "llama2", sd.templates.get("llama2"))
    return export(model, root / "export")


def _serve(folder: Path, max_batch: int) -> tuple[Any, threading.Thread, str]:
    import uvicorn

    from sfttrain import Limits, create_app

    limits = Limits(max_batch=max_batch, max_concurrency=256)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(folder, limits=limits), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}/v1"


def run(folder: Path, max_batch: int, n: int, max_tokens: int) -> dict[str, float]:
    import openai

    server, thread, url = _serve(folder, max_batch)
    client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=600)

    def one(i: int) -> tuple[float, int]:
        start = time.perf_counter()
        out = client.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}],
            max_tokens=max_tokens,
            temperature=0,
        )
        return time.perf_counter() - start, out.usage.completion_tokens

    one(0)  # warm-up
    start = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, range(n)))
    wall = time.perf_counter() - start
    sizes = server.config.app.state.engine.batcher.batches[1:]  # after the warm-up
    print(f"  max_batch {max_batch}: batch sizes {sizes}")
    server.should_exit = True
    thread.join(30)
    latencies = sorted(r[0] for r in results)
    tokens = sum(r[1] for r in results)
    return {
        "tokens/s": tokens / wall,
        "requests/s": n / wall,
        "p50 s": statistics.median(latencies),
        "p95 s": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
        "tokens": tokens,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=32)
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    args = p.parse_args()
    root = Path(tempfile.mkdtemp())
    try:
        folder = _export(root, args.hidden, args.layers)
        rows = {
            "batched (max_batch 32)": run(folder, 32, args.requests, args.max_tokens),
            "one at a time": run(folder, 1, args.requests, args.max_tokens),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{args.requests} concurrent chat requests, {args.max_tokens} new tokens each")
    for name, r in rows.items():
        print(
            f"  {name:<24} {r['tokens/s']:8.1f} tok/s  {r['requests/s']:6.2f} req/s  "
            f"p50 {r['p50 s']:6.2f} s  p95 {r['p95 s']:6.2f} s  ({int(r['tokens'])} tokens)"
        )
    a, b = rows["batched (max_batch 32)"], rows["one at a time"]
    print(f"  throughput ratio batched / one at a time: x{a['tokens/s'] / b['tokens/s']:.2f}")


if __name__ == "__main__":
    main()
