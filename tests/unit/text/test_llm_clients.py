"""LLM backends: the bundled SmolLM2 in-process, and llama.cpp's real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("httpx")

import httpx

from sosie.errors import DataSourceError
from sosie.text import (
    LlamaCppClient,
    LLMClient,
    LLMError,
    OpenAICompatibleClient,
    default_model_path,
)

SCHEMA = {
    "type": "object",
    "properties": {"review": {"type": "string"}, "label": {"enum": ["positive", "negative"]}},
    "required": ["review", "label"],
}
ASK = [
    {"role": "system", "content": "You write short product reviews as JSON."},
    {"role": "user", "content": "Write one negative review of a coffee grinder."},
]


@pytest.fixture(scope="module")
def local():
    return LlamaCppClient(n_ctx=1024, n_threads=2)


def test_local_model_is_the_bundled_smollm2(local):
    assert isinstance(local, LLMClient)
    assert default_model_path().name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert local.model_path == default_model_path()


def test_local_completion_is_seeded_and_bounded(local):
    a = local.complete(ASK, max_tokens=24, seed=3, temperature=0.9)
    b = local.complete(ASK, max_tokens=24, seed=3, temperature=0.9)
    c = local.complete(ASK, max_tokens=24, seed=4, temperature=0.9)
    assert a.text == b.text and a.text.strip()
    assert a.text != c.text
    assert a.completion_tokens <= 24 and a.prompt_tokens > 10


def test_local_json_schema_constrains_the_output(local):
    out = local.complete(ASK, max_tokens=120, seed=0, temperature=0.7, json_schema=SCHEMA)
    if out.finish_reason == "length":
        pytest.skip("the answer ran out of tokens before the JSON closed")
    record = json.loads(out.text)
    assert set(record) >= {"review", "label"} and record["label"] in ("positive", "negative")


def test_local_errors():
    with pytest.raises(DataSourceError, match="GGUF model file"):
        LlamaCppClient("/nonexistent/model.gguf")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("uvicorn")
    pytest.importorskip("fastapi")
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(default_model_path()),
        "--model_alias",
        "smollm2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "1024",
        "--n_threads",
        "2",
    ]
    # llama.cpp logs hundreds of kB: to a file (a pipe nobody reads would fill and block it)
    log_path = tmp_path_factory.mktemp("llama_server") / "server.log"
    log = log_path.open("w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama.cpp server exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("llama.cpp server did not start within 120 s")
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_http_client_against_a_real_llama_cpp_server(server):
    client = OpenAICompatibleClient(server, model="smollm2", json_mode="json_object")
    assert isinstance(client, LLMClient)
    out = client.complete(ASK, max_tokens=24, seed=3, temperature=0.9)
    assert out.text.strip() and out.completion_tokens <= 24
    again = client.complete(ASK, max_tokens=24, seed=3, temperature=0.9)
    assert again.text == out.text  # the server honours the seed
    structured = client.complete(ASK, max_tokens=120, seed=0, json_schema=SCHEMA)
    if structured.finish_reason != "length":
        assert json.loads(structured.text)["label"] in ("positive", "negative")
    client.close()


def test_http_client_errors(server):
    # a wrong path: the server answers 404, which is not retried
    bad = OpenAICompatibleClient(server.rsplit("/v1", 1)[0] + "/nope", model="smollm2")
    with pytest.raises(LLMError, match="HTTP 404"):
        bad.complete(ASK, max_tokens=4)
    # nothing listens: retried, then a clear error
    port = _free_port()
    down = OpenAICompatibleClient(f"http://127.0.0.1:{port}/v1", model="m", max_retries=1)
    with pytest.raises(LLMError, match="no answer after 2 attempts"):
        down.complete(ASK, max_tokens=4)
    with pytest.raises(ValueError, match="http"):
        OpenAICompatibleClient("127.0.0.1:8000", model="m")
    with pytest.raises(ValueError, match="messages"):
        down.complete([{"role": "robot", "content": "hi"}])
    with pytest.raises(ValueError, match="top_p"):
        down.complete(ASK, top_p=0.0)
