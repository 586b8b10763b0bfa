"""`sfttrain serve` through the official ``openai`` client, on 127.0.0.1 only."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from .infer_helpers import PROMPTS, chats, exported

pytestmark = pytest.mark.slow

HOST = "127.0.0.1"  # loopback only


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def export_dir(tiny_model_dir: Path, tmp_path_factory: Any) -> Path:
    return exported(tiny_model_dir, tmp_path_factory)


def _start(export_dir: Path, limits: Any) -> Any:
    """The app under uvicorn in a thread: (server, thread, base_url, app)."""
    import uvicorn

    from sfttrain import create_app

    app = create_app(export_dir, limits=limits, model_name="tiny")
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not srv.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started
    return srv, thread, f"http://{HOST}:{port}", app


@pytest.fixture(scope="module")
def server(export_dir: Path) -> Any:
    """The app with small limits; yields (base_url, app)."""
    from sfttrain import Limits

    limits = Limits(max_concurrency=32, max_prompt_tokens=64, max_tokens=48, max_n=4)
    srv, thread, url, app = _start(export_dir, limits)
    yield url, app
    srv.should_exit = True
    thread.join(30)


@pytest.fixture(scope="module")
def client(server: Any) -> Any:
    import openai

    return openai.OpenAI(base_url=server[0] + "/v1", api_key="unused", max_retries=0)


@pytest.fixture(scope="module")
def reference(export_dir: Path) -> list[str]:
    """`sfttrain generate`'s greedy replies (8 new tokens) to PROMPTS."""
    from sfttrain import generate

    return generate(export_dir, chats(), max_new_tokens=8)


def _chat(client: Any, content: str, **kw: Any) -> Any:
    kw.setdefault("max_tokens", 8)
    kw.setdefault("temperature", 0)
    messages = [{"role": "user", "content": content}]
    return client.chat.completions.create(model="tiny", messages=messages, **kw)


def test_chat_stream_models_health(client: Any, server: Any, reference: list[str]) -> None:
    """Property: a greedy chat reply equals `generate`'s; its stream joins to the same
    text; /v1/models lists the model; /health answers."""
    import httpx

    out = _chat(client, PROMPTS[0])
    assert out.choices[0].message.content == reference[0]
    assert out.choices[0].finish_reason == "length" and out.usage.completion_tokens == 8
    chunks = list(_chat(client, PROMPTS[0], stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text.strip() == reference[0]
    assert chunks[-1].choices[0].finish_reason == "length"
    assert [m.id for m in client.models.list()] == ["tiny"]
    assert httpx.get(server[0] + "/health").json()["status"] == "ok"


def test_stop_max_tokens_and_n(client: Any, reference: list[str]) -> None:
    """Property: `stop` cuts the reply before the stop string (finish_reason stop);
    max_tokens bounds the completion; n greedy choices are n copies of the reply."""
    words = reference[1].split()
    assert len(words) >= 2
    stop = words[1]
    out = _chat(client, PROMPTS[1], stop=[stop])
    assert out.choices[0].finish_reason == "stop"
    assert stop not in out.choices[0].message.content
    assert reference[1].startswith(out.choices[0].message.content)
    short = _chat(client, PROMPTS[1], max_tokens=2)
    assert short.usage.completion_tokens == 2
    many = _chat(client, PROMPTS[2], n=3)
    assert [c.index for c in many.choices] == [0, 1, 2]
    assert {c.message.content for c in many.choices} == {reference[2]}
    text = client.completions.create(model="tiny", prompt="Hello", max_tokens=3, temperature=0)
    assert text.usage.completion_tokens == 3 and text.object == "text_completion"


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"messages": [{"role": "robot", "content": "x"}]}, 400, "role"),
        ({"messages": []}, 400, "messages"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": 3}, 400, "temperature"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, 400, "max_tokens"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 999}, 400, "max_tokens"),
        ({"messages": [{"role": "user", "content": "x"}], "n": 50}, 400, "n"),
        ({"messages": [{"role": "user", "content": "x"}], "top_p": 0}, 400, "top_p"),
        ({"messages": [{"role": "user", "content": "word " * 200}]}, 400, "limit"),
        ({"messages": [{"role": "assistant", "content": "x"}]}, 400, "last message"),
        ({"messages": [{"role": "tool", "content": "x"}]}, 400, "role"),
        ({"messages": [{"role": "user", "content": [{"type": "image"}]}]}, 400, "text"),
        ({"messages": "hi"}, 400, "messages"),
    ],
)
def test_bad_requests_get_a_clear_4xx_json_error(
    server: Any, body: Any, status: int, needle: str
) -> None:
    """Property: each malformed request gets its 4xx with an OpenAI-shaped JSON error
    naming the problem, and the server keeps answering."""
    import httpx

    r = httpx.post(server[0] + "/v1/chat/completions", json=body, timeout=60)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"]["message"]
    assert httpx.get(server[0] + "/health").status_code == 200
    bad = httpx.post(server[0] + "/v1/chat/completions", content=b"{not json", timeout=60)
    assert bad.status_code == 400


def test_load_64_requests_8_at_a_time_batch_and_match_generate(
    client: Any, server: Any, reference: list[str]
) -> None:
    """Property: 64 greedy chats sent 8 at a time all succeed, equal `generate`'s replies,
    and were decoded in batches of more than one request."""
    app = server[1]
    before = len(_batches(app))
    with ThreadPoolExecutor(8) as pool:
        jobs = [pool.submit(_chat, client, PROMPTS[i % len(PROMPTS)]) for i in range(64)]
        answers = [j.result().choices[0].message.content for j in jobs]
    assert answers == [reference[i % len(PROMPTS)] for i in range(64)]
    sizes = _batches(app)[before:]
    assert sum(sizes) == 64 and max(sizes) > 1


def _batches(app: Any) -> list[int]:
    """Batch sizes the app's batcher decoded so far."""
    return list(app.state.engine.batcher.batches)


def test_requests_over_the_concurrency_limit_get_429(export_dir: Path) -> None:
    """Property: with max_concurrency 2, a third request while two are in flight gets a
    429 JSON error, and the two in flight are answered."""
    import httpx

    from sfttrain import Limits

    srv, thread, url, _ = _start(export_dir, Limits(max_concurrency=2, max_tokens=256))
    chat = {"messages": [{"role": "user", "content": "hi"}], "temperature": 0}
    body = {**chat, "max_tokens": 256, "n": 2}  # long enough to be seen in flight
    try:
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(httpx.post, url + "/v1/chat/completions", json=body, timeout=120)
            deadline = time.monotonic() + 30
            while httpx.get(url + "/health").json()["inflight"] < 2:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            busy = httpx.post(url + "/v1/chat/completions", json=body, timeout=120)
            assert busy.status_code == 429 and "busy" in busy.json()["error"]["message"]
            assert first.result().status_code == 200
    finally:
        srv.should_exit = True
        thread.join(30)


def test_sigterm_finishes_inflight_requests_then_exits(export_dir: Path) -> None:
    """Property: `sfttrain serve` on SIGTERM answers the request in flight, runs its
    shutdown (the batcher stops) and exits by that signal (uvicorn re-raises it)."""
    import openai

    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [sys.executable, "-m", "sfttrain.cli", "serve", str(export_dir), "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        client = openai.OpenAI(base_url=f"http://{HOST}:{port}/v1", api_key="x", max_retries=0)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                client.models.list()
                break
            except openai.APIConnectionError:
                time.sleep(0.2)
        with ThreadPoolExecutor(1) as pool:
            job = pool.submit(_chat, client, "Count slowly.", max_tokens=48)
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            answer = job.result(timeout=120)
        assert answer.choices[0].finish_reason in ("length", "stop")
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
        assert proc.stdout is not None
        assert "Application shutdown complete" in proc.stdout.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
