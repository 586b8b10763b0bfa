"""CLI parts of inference: decoding flags (``generate`` / ``serve``) and ``sfttrain serve``.

::

    sfttrain generate EXPORT --prompt "hi" --cache static --compile
    sfttrain generate EXPORT --prompt "hi" --draft runs/small/export     # assisted
    sfttrain generate EXPORT --prompt "hi" --prompt-lookup 3             # n-gram lookup
    sfttrain generate EXPORT --prompt "hi" --cache quantized --kv-bits 4
    sfttrain serve EXPORT --host 127.0.0.1 --port 8000                   # OpenAI API
    sfttrain serve EXPORT --engine vllm                                  # GPU: vLLM's server
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from sfttrain._decoding import ATTENTION, CACHES, DecodeOptions

__all__ = ["add_decode_args", "add_serve_parser", "decode_options", "run_serve", "vllm_command"]


def add_decode_args(p: argparse.ArgumentParser) -> None:
    """Flags of :class:`~sfttrain._decoding.DecodeOptions`."""
    p.add_argument("--cache", choices=CACHES, default="dynamic", help="KV cache kind")
    p.add_argument("--compile", action="store_true", help="torch.compile (with --cache static)")
    p.add_argument("--kv-bits", type=int, default=4, help="bits of --cache quantized (2, 4, 8)")
    p.add_argument("--kv-backend", default="hqq", help="hqq or quanto (--cache quantized)")
    p.add_argument("--draft", help="draft model folder for assisted decoding")
    p.add_argument("--prompt-lookup", type=int, default=0, help="prompt-lookup tokens (0: off)")
    p.add_argument("--attn", choices=ATTENTION, help="attention implementation")


def decode_options(args: argparse.Namespace) -> DecodeOptions:
    return DecodeOptions(
        cache=args.cache,
        compile=args.compile,
        kv_bits=args.kv_bits,
        kv_backend=args.kv_backend,
        draft=args.draft,
        prompt_lookup=args.prompt_lookup,
        attn_implementation=args.attn,
    )


def add_serve_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    s = sub.add_parser("serve", help="OpenAI-compatible server for an export folder")
    s.add_argument("model", help="an export folder (sfttrain export)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--engine", choices=("hf", "vllm"), default="hf")
    s.add_argument("--model-name", help="the id /v1/models reports (default: folder name)")
    s.add_argument("--max-concurrency", type=int, default=64)
    s.add_argument("--max-prompt-tokens", type=int, default=2048)
    s.add_argument("--max-tokens", type=int, default=512, help="largest max_tokens accepted")
    s.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    s.add_argument("--max-batch", type=int, default=16, help="requests decoded together")
    add_decode_args(s)


def vllm_command(args: argparse.Namespace) -> list[str]:
    """vLLM's OpenAI server on the export, with the export's chat template."""
    folder = Path(args.model)
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(folder)]
    cmd += ["--host", args.host, "--port", str(args.port)]
    if (folder / "chat_template.jinja").is_file():
        cmd += ["--chat-template", str(folder / "chat_template.jinja")]
    if args.model_name:
        cmd += ["--served-model-name", args.model_name]
    return cmd


def run_serve(args: argparse.Namespace) -> int:
    from sfttrain._serve import serve
    from sfttrain._serve_api import Limits

    if args.engine == "vllm":
        import importlib.util

        if importlib.util.find_spec("vllm") is None:
            raise ValueError(
                "--engine vllm: vllm is not installed (a GPU install: pip install vllm)"
            )
        cmd = vllm_command(args)
        os.execv(shutil.which(cmd[0]) or cmd[0], cmd)
    limits = Limits(
        max_concurrency=args.max_concurrency,
        max_prompt_tokens=args.max_prompt_tokens,
        max_tokens=args.max_tokens,
        request_timeout_s=args.timeout,
        max_batch=args.max_batch,
    )
    serve(
        args.model,
        host=args.host,
        port=args.port,
        limits=limits,
        options=decode_options(args),
        model_name=args.model_name,
    )
    return 0
