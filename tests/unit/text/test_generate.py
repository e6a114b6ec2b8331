"""Text generation: the spec, the plan, retries, resumable output, and a real SmolLM2 run."""

from __future__ import annotations

import json
import threading

import pandas as pd
import pytest

from sosie.errors import InvalidDataError, SpecError
from sosie.text import Completion, TextSpec, generate_text, load_text_spec, parse_record

SPEC = {
    "task": "classification",
    "instructions": "Write one customer review of a food product.",
    "labels": {
        "great": {"count": 6, "description": "delighted"},
        "other": {"count": 4, "description": "disappointed"},
    },
    "slots": {"product": ["tea", "coffee", "jam"], "style": ["casual", "formal"]},
    "few_shot": {"k": 1},
    "sampling": {"temperature": [0.6, 1.0], "top_p": 0.9, "max_tokens": 64},
    "max_retries": 2,
}
SEEDS = pd.DataFrame(
    {
        "review": ["Lovely tea, fresh.", "Stale coffee, sad.", "Best jam ever.", "Too sweet."],
        "score": ["great", "other", "great", "other"],
    }
)


class Scripted:
    """A client answering from a script: lets the tests count calls and inject bad answers."""

    name = "scripted"

    def __init__(self, bad_every: int = 0, concurrency: int = 1, fail_after: int | None = None):
        self.calls: list[dict] = []
        self.bad_every = bad_every
        self.concurrency = concurrency
        self.fail_after = fail_after
        self.lock = threading.Lock()

    def complete(self, messages, **kw):
        with self.lock:
            self.calls.append({"messages": messages, **kw})
            k = len(self.calls)
        if self.fail_after is not None and k > self.fail_after:
            raise KeyboardInterrupt  # an interrupted run
        if self.bad_every and k % self.bad_every == 0:
            return Completion("Sure! Here is a review: great stuff", model="scripted")
        user = messages[-1]["content"]
        return Completion(json.dumps({"text": f"review {k}: {user[:20]}"}), model="scripted")


def test_spec_validation_names_every_problem():
    bad = {
        "task": "summaries",
        "instructions": "",
        "lables": {},
        "slots": {"topic": []},
        "sampling": {"temperature": [0.5, 9], "max_tokens": 2},
    }
    with pytest.raises(SpecError) as e:
        TextSpec.from_dict(bad)
    text = str(e.value)
    for fragment in (
        "spec.task",
        "spec.instructions",
        "did you mean 'labels'",
        "spec.slots.topic",
        "spec.sampling.temperature",
        "spec.sampling.max_tokens",
    ):
        assert fragment in text, fragment


def test_spec_yaml_round_trip(tmp_path):
    import yaml

    spec = load_text_spec(SPEC)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec.to_dict()))
    assert load_text_spec(path) == spec
    assert spec.temperature == (0.6, 1.0) and spec.top_p == (0.9, 0.9)
    with pytest.raises(SpecError, match="existing YAML file"):
        load_text_spec(tmp_path / "nope.yaml")


def test_counts_slots_schedule_and_few_shot():
    client = Scripted()
    res = generate_text(
        SPEC, client, seeds=SEEDS, text_field="review", label_field="score", rng=1, verbose=False
    )
    # Assert: the asked counts per label, every slot from its list, the temperature schedule
    assert res.stats == {**res.stats, "asked": 10, "made": 10, "failed": 0}
    assert res.data["label"].value_counts().to_dict() == {"great": 6, "other": 4}
    assert set(res.data["slot_product"]) <= {"tea", "coffee", "jam"}
    temps = sorted(c["temperature"] for c in client.calls)
    assert temps[0] == pytest.approx(0.6) and temps[-1] == pytest.approx(1.0)
    assert all(c["json_schema"]["required"] == ["text"] for c in client.calls)
    # few-shot examples come from the seeds of the same label
    for call in client.calls:
        user = call["messages"][-1]["content"]
        label = user.split("Label: ")[1].split(" ")[0]
        shots = [json.loads(line)["text"] for line in user.splitlines() if line.startswith("{")]
        assert len(shots) == 1 and SEEDS.set_index("review").loc[shots[0], "score"] == label


def test_invalid_answers_are_retried_with_new_seeds():
    client = Scripted(bad_every=3)
    res = generate_text(SPEC, client, rng=0, verbose=False)
    assert res.stats["made"] == 10 and res.stats["retried"] >= 1
    retried = res.data[res.data["attempts"] > 1]
    assert len(client.calls) == 10 + int((res.data["attempts"] - 1).sum())
    # a retry asks with another seed
    seeds_by_id = {}
    for c in client.calls:
        seeds_by_id.setdefault(c["messages"][-1]["content"], set()).add(c["seed"])
    assert any(len(s) > 1 for s in seeds_by_id.values()) and len(retried)


def test_requests_that_never_parse_are_reported_not_written(tmp_path, caplog):
    client = Scripted(bad_every=1)  # every answer is prose
    out = tmp_path / "out.jsonl"
    res = generate_text({**SPEC, "max_retries": 1}, client, out=out, rng=0, verbose=False)
    assert res.stats["made"] == 0 and res.stats["failed"] == 10
    assert "no JSON object" in res.failures[0]["failed"]
    assert out.read_text() == "" and not (tmp_path / "out.jsonl.partial").exists()
    assert "re-run to retry them" in caplog.text


def test_interrupted_run_resumes_without_asking_again(tmp_path):
    out = tmp_path / "out.jsonl"
    with pytest.raises(KeyboardInterrupt):
        generate_text(SPEC, Scripted(fail_after=4), out=out, rng=3, verbose=False)
    partial = tmp_path / "out.jsonl.partial"
    assert not out.exists() and len(partial.read_text().splitlines()) == 4
    with partial.open("a") as fh:
        fh.write('{"id": 7, "text": "cut sh')  # a line cut short by the interruption
    client = Scripted()
    res = generate_text(SPEC, client, out=out, rng=3, verbose=False)
    assert len(client.calls) == 6 and res.stats["resumed"] == 4
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in lines] == list(range(10)) and not partial.exists()
    # same plan as an uninterrupted run: labels and slots per id agree
    whole = generate_text(SPEC, Scripted(), rng=3, verbose=False).data
    pd.testing.assert_series_equal(res.data["slot_product"], whole["slot_product"])
    # a finished file is not asked again
    again = Scripted()
    generate_text(SPEC, again, out=out, rng=3, verbose=False)
    assert again.calls == []


def test_records_from_another_plan_are_not_resumed(tmp_path, caplog):
    # Setup: a finished file made with another seed (another plan: labels and seeds per id)
    out = tmp_path / "out.jsonl"
    generate_text(SPEC, Scripted(), out=out, rng=1, verbose=False)
    # Run: the same output file with another seed, then with a spec asking other counts
    client = Scripted()
    res = generate_text(SPEC, client, out=out, rng=2, verbose=False)
    # Assert: nothing is taken from the other plan; the file now holds this plan's records
    assert len(client.calls) == 10 and res.stats["resumed"] == 0
    assert "made from another spec, seed or plan" in caplog.text
    fresh = generate_text(SPEC, Scripted(), rng=2, verbose=False).data
    pd.testing.assert_series_equal(res.data["label"], fresh["label"])
    more = {**SPEC, "labels": {"great": 9, "other": 1}}
    client = Scripted()
    res = generate_text(more, client, out=out, rng=2, verbose=False)
    assert res.data["label"].value_counts().to_dict() == {"great": 9, "other": 1}


def test_a_backend_failure_before_any_record_leaves_no_file(tmp_path):
    from sosie.text import LLMError

    class Down:
        name, concurrency = "down", 1

        def complete(self, messages, **kw):
            raise LLMError("server down")

    with pytest.raises(LLMError):
        generate_text(SPEC, Down(), out=tmp_path / "out.jsonl", rng=0, verbose=False)
    assert list(tmp_path.iterdir()) == []


def test_concurrent_client_gets_parallel_requests():
    client = Scripted(concurrency=4)
    res = generate_text(SPEC, client, rng=0, verbose=False)
    assert res.stats["made"] == 10 and list(res.data["id"]) == list(range(10))


def test_instruction_task_and_seed_errors():
    spec = {"task": "instruction", "instructions": "Ask and answer a cooking question.", "count": 3}

    class Pairs(Scripted):
        def complete(self, messages, **kw):
            super().complete(messages, **kw)
            return Completion('{"instruction": "How long to boil an egg?", "response": "9 min."}')

    res = generate_text(spec, Pairs(), verbose=False)
    assert list(res.data.columns[:4]) == ["id", "label", "instruction", "response"]
    with pytest.raises(InvalidDataError, match="seeds column 'score'"):
        generate_text(
            SPEC,
            Scripted(),
            seeds=SEEDS.drop(columns="score"),
            text_field="review",
            label_field="score",
            verbose=False,
        )
    with pytest.raises(InvalidDataError, match="text_field"):
        generate_text(spec, Pairs(), seeds=SEEDS, text_field="review", verbose=False)


def test_parse_record():
    assert parse_record('noise {"text": "ok"} trailing', ["text"]) == ({"text": "ok"}, "")
    assert parse_record('{"text": 3}', ["text"])[1] == "field 'text' missing or not a string"
    assert parse_record('{"text": "a",}', ["text"])[1].startswith("invalid JSON")
    assert parse_record("[1, 2]", ["text"])[1] == "no JSON object in the answer"


def test_real_smollm2_writes_labelled_reviews(tmp_path):
    pytest.importorskip("llama_cpp")
    from sosie.text import LlamaCppClient

    client = LlamaCppClient(n_ctx=1024, n_threads=2)
    spec = {**SPEC, "labels": {"great": 2, "other": 2}, "sampling": {"max_tokens": 96}}
    out = tmp_path / "reviews.jsonl"
    res = generate_text(
        spec,
        client,
        seeds=SEEDS,
        text_field="review",
        label_field="score",
        out=out,
        rng=0,
        verbose=False,
    )
    assert res.stats["made"] + res.stats["failed"] == 4 and res.stats["made"] >= 3
    assert all(isinstance(t, str) and t.strip() for t in res.data["text"])
    assert set(res.data["label"]) <= {"great", "other"}
    # (a 135M model often copies its few-shot examples verbatim: the memorisation filter's job)
    assert len(out.read_text().splitlines()) == res.stats["made"]
