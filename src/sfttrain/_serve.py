"""``sfttrain serve EXPORT_DIR``: an OpenAI-compatible HTTP server (FastAPI + uvicorn).

::

    POST /v1/chat/completions   messages -> sftdata template ids -> dynamic batch -> reply
                                (stream: true -> server-sent events, one chunk per piece)
    POST /v1/completions        raw prompt text (tokenizer BOS added) -> continuation
    GET  /v1/models             the served model
    GET  /health                {"status": "ok", "queued": ..., "batches": ...}

Chat prompts are encoded exactly as training encoded them (the export's
``sftdata_template.json``, with the generation prompt), never by re-rendering a jinja
string. Bad requests (unknown roles, empty messages, prompts over the limit, parameters
out of range) get a 400 JSON error; more than ``max_concurrency`` requests in flight
get 429; a request still waiting for the model after ``request_timeout_s`` gets 504.
SIGTERM stops accepting connections, lets in-flight requests finish, then stops the
worker (uvicorn's graceful shutdown).

>>> app = create_app("runs/demo/export")  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sfttrain._batcher import Batcher, Job, Result
from sfttrain._decoding import DecodeOptions
from sfttrain._serve_api import ChatRequest, CompletionRequest, Limits, message_text

__all__ = ["ApiError", "create_app", "serve"]


class ApiError(Exception):
    """An error answered as ``{"error": {...}}`` with an HTTP status."""

    def __init__(self, status: int, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param = status, message, param

    def body(self) -> dict[str, Any]:
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": None}}


class _Engine:
    """The loaded model, its template and the batcher; turns requests into jobs."""

    def __init__(self, folder: Path, limits: Limits, options: DecodeOptions, name: str) -> None:
        from sfttrain._generate import load_draft, load_for_inference

        self.model, self.tokenizer, self.template = load_for_inference(folder, options)
        draft = load_draft(options.draft, self.model, options) if options.draft else None
        self.limits, self.name, self.inflight = limits, name, 0
        context = getattr(self.model.config, "max_position_embeddings", None)
        self.context = int(context) if context else None
        self.batcher = Batcher(
            self.model,
            self.tokenizer,
            max_batch=1 if options.speculative else limits.max_batch,
            extra=options.generate_kwargs(draft),
        )
        self.stops = (*(getattr(self.template, "stop_words", ()) or ()), self.tokenizer.eos_token)

    def chat_prompt(self, req: ChatRequest) -> list[int]:
        import sftdata as sd
        from sfttrain._generate import prompt_ids

        try:
            messages = [{"role": m.role, "content": message_text(m)} for m in req.messages]
        except ValueError as e:
            raise ApiError(400, str(e), param="messages") from e
        if messages[-1]["role"] not in ("user", "tool"):
            raise ApiError(
                400, "messages: the last message must be from the user", param="messages"
            )
        try:
            return prompt_ids(self.tokenizer, self.template, messages)
        except (sd.RowError, sd.SftDataError) as e:
            raise ApiError(400, f"messages: {e}", param="messages") from e

    def text_prompt(self, req: CompletionRequest) -> list[int]:
        if not req.text():
            raise ApiError(400, "prompt: must not be empty", param="prompt")
        return list(self.tokenizer(req.text())["input_ids"])

    def check(self, prompt: list[int], req: Any) -> int:
        """The number of new tokens to generate; ApiError for a request over a limit."""
        lim = self.limits
        new = req.new_tokens(min(lim.max_tokens, 256))
        if len(prompt) > lim.max_prompt_tokens:
            raise ApiError(
                400,
                f"prompt has {len(prompt)} tokens; the limit is {lim.max_prompt_tokens}",
                param="messages",
            )
        if new > lim.max_tokens:
            raise ApiError(
                400, f"max_tokens: {new} is over the limit {lim.max_tokens}", param="max_tokens"
            )
        if req.n > lim.max_n:
            raise ApiError(400, f"n: {req.n} is over the limit {lim.max_n}", param="n")
        if self.context is not None and len(prompt) + new > self.context:
            raise ApiError(
                400,
                f"prompt ({len(prompt)} tokens) + max_tokens ({new}) exceeds the model's "
                f"context of {self.context} tokens",
                param="max_tokens",
            )
        if self.inflight + req.n > lim.max_concurrency:
            raise ApiError(429, f"server busy: {self.inflight} requests in flight")
        return new

    def start(self, prompt: list[int], new: int, req: Any) -> list[asyncio.Queue[Any]]:
        """Submit ``req.n`` jobs; each queue gets text deltas, then a Result or an error."""
        loop = asyncio.get_running_loop()
        out: list[asyncio.Queue[Any]] = []
        deadline = time.monotonic() + self.limits.request_timeout_s
        for _ in range(req.n):
            q: asyncio.Queue[Any] = asyncio.Queue()
            out.append(q)
            self.inflight += 1

            def push(item: Any, q: asyncio.Queue[Any] = q) -> None:
                loop.call_soon_threadsafe(q.put_nowait, item)

            self.batcher.submit(
                Job(
                    prompt=prompt,
                    max_new_tokens=new,
                    stops=(*self.stops, *req.stop_list()),
                    on_text=push if req.stream else None,
                    on_done=push,
                    do_sample=req.temperature > 0,
                    temperature=req.temperature or 1.0,
                    top_p=req.top_p,
                    deadline=deadline,
                )
            )
        return out

    async def results(self, queues: list[asyncio.Queue[Any]]) -> list[Result]:
        """Every job's Result; the first failure (after all have ended) as an ApiError."""
        done = [await _final(q, self) for q in queues]
        for item in done:
            if isinstance(item, TimeoutError):
                raise ApiError(504, str(item))
            if isinstance(item, BaseException):
                raise ApiError(500, f"generation failed: {type(item).__name__}: {item}")
        return [r for r in done if isinstance(r, Result)]


async def _final(q: asyncio.Queue[Any], engine: _Engine) -> Result | BaseException:
    while True:
        item = await q.get()
        if not isinstance(item, str):
            engine.inflight -= 1
            return item  # type: ignore[no-any-return]


def _usage(prompt: list[int], results: list[Result]) -> dict[str, int]:
    done = sum(r.tokens for r in results)
    return {
        "prompt_tokens": len(prompt),
        "completion_tokens": done,
        "total_tokens": len(prompt) + done,
    }


def create_app(
    export_dir: str | Path,
    *,
    limits: Limits | None = None,
    options: DecodeOptions | None = None,
    model_name: str | None = None,
) -> Any:
    """The FastAPI app serving the model in ``export_dir`` (loaded at startup)."""
    import contextlib

    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, StreamingResponse

    folder = Path(export_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"serve: no model folder at {str(folder)!r}")
    limits, options = limits or Limits(), options or DecodeOptions()
    name = model_name or folder.name
    state: dict[str, _Engine] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        state["engine"] = await asyncio.to_thread(_Engine, folder, limits, options, name)
        app.state.engine = state["engine"]  # for inspection (batch sizes, requests in flight)
        yield
        await asyncio.to_thread(state["engine"].batcher.close)

    app = FastAPI(title="sfttrain serve", lifespan=lifespan)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Any:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Any:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        msg = f"{where}: {first.get('msg', 'invalid request')}" if where else str(exc)
        return JSONResponse(ApiError(400, msg, param=where or None).body(), status_code=400)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Any:
        return JSONResponse(ApiError(500, f"{type(exc).__name__}: {exc}").body(), status_code=500)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        engine = state["engine"]
        return {"status": "ok", "inflight": engine.inflight, "batches": len(engine.batcher.batches)}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        card = {"id": name, "object": "model", "created": 0, "owned_by": "sfttrain"}
        return {"object": "list", "data": [card]}

    @app.post("/v1/chat/completions")
    async def chat(req: ChatRequest) -> Any:
        engine = state["engine"]
        prompt = engine.chat_prompt(req)
        return await _respond(engine, prompt, req, chat=True)

    @app.post("/v1/completions")
    async def completions(req: CompletionRequest) -> Any:
        engine = state["engine"]
        return await _respond(engine, engine.text_prompt(req), req, chat=False)

    async def _respond(engine: _Engine, prompt: list[int], req: Any, *, chat: bool) -> Any:
        new = engine.check(prompt, req)
        queues = engine.start(prompt, new, req)
        rid = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
        if req.stream:
            events = _stream(engine, queues, rid, chat=chat)
            return StreamingResponse(events, media_type="text/event-stream")
        results = await engine.results(queues)
        return _body(engine.name, rid, prompt, results, chat=chat)

    return app


def _body(name: str, rid: str, prompt: list[int], results: list[Result], *, chat: bool) -> Any:
    choices = []
    for i, r in enumerate(results):
        text = r.text.strip()
        if chat:
            message = {"role": "assistant", "content": text}
            choices.append({"index": i, "message": message, "finish_reason": r.finish_reason})
        else:
            choices.append({"index": i, "text": r.text, "finish_reason": r.finish_reason})
    return {
        "id": rid,
        "object": "chat.completion" if chat else "text_completion",
        "created": int(time.time()),
        "model": name,
        "choices": choices,
        "usage": _usage(prompt, results),
    }


async def _stream(
    engine: _Engine, queues: list[asyncio.Queue[Any]], rid: str, *, chat: bool
) -> AsyncIterator[str]:
    """Server-sent events: one chunk per text delta of any choice, then ``[DONE]``."""
    kind = "chat.completion.chunk" if chat else "text_completion"
    created = int(time.time())

    def event(index: int, text: str | None, finish: str | None, first: bool = False) -> str:
        if chat:
            delta: dict[str, Any] = {"role": "assistant"} if first else {}
            if text is not None:
                delta["content"] = text
            choice: dict[str, Any] = {"index": index, "delta": delta, "finish_reason": finish}
        else:
            choice = {"index": index, "text": text or "", "finish_reason": finish}
        chunk = {"id": rid, "object": kind, "created": created, "model": engine.name}
        return "data: " + json.dumps({**chunk, "choices": [choice]}) + "\n\n"

    merged: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()

    async def pump(i: int, q: asyncio.Queue[Any]) -> None:
        while True:
            item = await q.get()
            await merged.put((i, item))
            if not isinstance(item, str):
                return

    tasks = [asyncio.create_task(pump(i, q)) for i, q in enumerate(queues)]
    if chat:
        for i in range(len(queues)):
            yield event(i, "", None, first=True)
    started = [False] * len(queues)
    open_ = len(queues)
    try:
        while open_:
            i, item = await merged.get()
            if isinstance(item, str):
                text = item if started[i] else item.lstrip()
                started[i] = started[i] or bool(text)
                if text:
                    yield event(i, text, None)
                continue
            open_ -= 1
            engine.inflight -= 1
            if isinstance(item, BaseException):
                err = ApiError(504 if isinstance(item, TimeoutError) else 500, str(item))
                yield "data: " + json.dumps(err.body()) + "\n\n"
                continue
            yield event(i, None, item.finish_reason)
        yield "data: [DONE]\n\n"
    finally:  # also when the client went away: its rows finish on their own limits
        engine.inflight -= open_
        for t in tasks:
            t.cancel()


def serve(
    export_dir: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    limits: Limits | None = None,
    options: DecodeOptions | None = None,
    model_name: str | None = None,
    graceful_s: float = 30.0,
) -> None:
    """Run the server until SIGTERM / Ctrl-C (in-flight requests get ``graceful_s``)."""
    import uvicorn

    app = create_app(export_dir, limits=limits, options=options, model_name=model_name)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="info", timeout_graceful_shutdown=int(graceful_s)
    )
    uvicorn.Server(config).run()
