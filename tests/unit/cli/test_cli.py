"""The command line, end to end on real files: inspect, fit, sample, list, errors."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd
import pytest

import sosie
from sosie.cli import main
from sosie.io import read_table, write_table


@pytest.fixture
def adult_csv(tmp_path, adult_small):
    path = tmp_path / "adult.csv"
    write_table(adult_small, path)
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["--quiet", *args]) if args and args[0] != "--debug" else main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0 and "gaussian_copula" in out


def test_inspect_shows_evidence_and_writes_schema(capsys, adult_csv, tmp_path):
    schema_path = tmp_path / "schema.json"
    code, out, _ = run(
        capsys,
        "inspect",
        str(adult_csv),
        "--schema-out",
        str(schema_path),
        "--type",
        "education_num=categorical",
    )
    assert code == 0
    assert "workclass" in out and "categorical" in out and "nulls modelled" in out
    schema = sosie.TableSchema.from_json(schema_path)
    assert schema["education_num"].type.value == "categorical"
    # the exact rules found are listed with their evidence and written into the schema
    assert "exact rules found in the data" in out and "education determines" in out
    found = {c.describe() for c in schema.constraints}
    assert "education determines education_num" in found
    assert all(c.provenance == "inferred" and c.evidence for c in schema.constraints)


def test_inspect_without_constraints(capsys, adult_csv, tmp_path):
    schema_path = tmp_path / "schema.json"
    code, out, _ = run(
        capsys, "inspect", str(adult_csv), "--no-constraints", "--schema-out", str(schema_path)
    )
    assert code == 0 and "exact rules" not in out
    assert sosie.TableSchema.from_json(schema_path).constraints == []


def test_fit_sample_with_conditions_csv_parquet_sqlite(capsys, adult_csv, tmp_path):
    model = tmp_path / "m.sosie"
    code, _, err = run(
        capsys,
        "fit",
        str(adult_csv),
        "-g",
        "gaussian_copula",
        "--param",
        "max_atoms=64",
        "--seed",
        "3",
        "-o",
        str(model),
    )
    assert code == 0, err
    loaded = sosie.load(model)
    assert loaded.max_atoms == 64 and loaded.rng == 3

    out_parquet = tmp_path / "s.parquet"
    code, _, err = run(
        capsys,
        "sample",
        str(model),
        "-n",
        "500",
        "-c",
        "income=>50K",
        "-c",
        "age=40",
        "-c",
        "occupation=<null>",
        "--seed",
        "1",
        "-o",
        str(out_parquet),
    )
    assert code == 0, err
    s = read_table(out_parquet)
    assert len(s) == 500 and (s["income"] == ">50K").all() and (s["age"] == 40).all()
    assert s["occupation"].isna().all()

    db = tmp_path / "out.db"
    code, _, err = run(capsys, "sample", str(model), "-n", "200", "-o", f"sqlite:///{db}#synthetic")
    assert code == 0, err
    with sqlite3.connect(db) as con:
        assert con.execute("select count(*) from synthetic").fetchone()[0] == 200


def test_fit_from_sqlite_and_schema(capsys, tmp_path, adult_small):
    db = tmp_path / "in.db"
    write_table(adult_small, f"sqlite:///{db}", table="adult")
    schema = tmp_path / "schema.json"
    sosie.infer_schema(adult_small).update("education_num", type="categorical").to_json(schema)
    model = tmp_path / "m.sosie"
    code, _, err = run(
        capsys,
        "fit",
        f"sqlite:///{db}",
        "--table",
        "adult",
        "--schema",
        str(schema),
        "-o",
        str(model),
    )
    assert code == 0, err
    assert sosie.load(model).schema_["education_num"].type.value == "categorical"


def test_errors_are_one_clear_message_with_exit_2(capsys, adult_csv, tmp_path):
    code, _, err = run(
        capsys, "fit", str(adult_csv), "-g", "ctgann", "-o", str(tmp_path / "m.sosie")
    )
    assert code == 2 and "error:" in err and "ctgann" in err and "Traceback" not in err
    assert not (tmp_path / "m.sosie").exists()

    code, _, err = run(capsys, "fit", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "m.sosie"))
    assert code == 2 and "nope.csv" in err

    code, _, err = run(
        capsys, "fit", str(adult_csv), "--param", "bogus=1", "-o", str(tmp_path / "m.sosie")
    )
    assert code == 2 and "bogus" in err

    model = tmp_path / "ok.sosie"
    assert run(capsys, "fit", str(adult_csv), "-o", str(model))[0] == 0
    code, _, err = run(
        capsys, "sample", str(model), "-c", "income=rich", "-o", str(tmp_path / "x.csv")
    )
    assert code == 2 and "'income'" in err and "rich" in err
    assert not (tmp_path / "x.csv").exists()


def test_debug_shows_traceback(tmp_path):
    with pytest.raises(sosie.errors.ModelFileError):
        main(["--debug", "sample", str(tmp_path / "missing.sosie"), "-o", str(tmp_path / "x.csv")])


def test_usage_error_exit_code(capsys):
    code = main(["sample"])
    assert code == 2


def test_written_outputs_keep_types(capsys, adult_csv, tmp_path):
    model = tmp_path / "m.sosie"
    assert run(capsys, "fit", str(adult_csv), "-o", str(model))[0] == 0
    out = tmp_path / "s.jsonl"
    assert run(capsys, "sample", str(model), "-n", "50", "-o", str(out))[0] == 0
    s = read_table(out)
    real = pd.read_csv(adult_csv)
    assert set(s.columns) == set(real.columns)
    assert str(s["age"].dtype) == "int64"


def test_generate_from_spec(capsys, tmp_path):
    from sosie.generators.rules import example_path

    out = tmp_path / "tx.parquet"
    code, _, err = run(
        capsys,
        "generate",
        str(example_path("card_transactions")),
        "-n",
        "5000",
        "--seed",
        "1",
        "-o",
        str(out),
    )
    assert code == 0, err
    df = read_table(out)
    assert len(df) == 5000 and (df["amount"] > 0).all()
    assert 0 < df["is_fraud"].mean() < 0.05
    again = tmp_path / "tx2.parquet"
    assert (
        run(
            capsys,
            "generate",
            str(example_path("card_transactions")),
            "-n",
            "5000",
            "--seed",
            "1",
            "-o",
            str(again),
        )[0]
        == 0
    )
    pd.testing.assert_frame_equal(read_table(again), df)


def test_generate_reports_spec_line(capsys, tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("columns:\n  x:\n    distribution: lognormall\n    mu: 1\n")
    code, _, err = run(capsys, "generate", str(spec), "-n", "10", "-o", str(tmp_path / "x.csv"))
    assert code == 2 and "line 3" in err and "lognormal" in err
    assert not (tmp_path / "x.csv").exists()


def test_sample_writes_a_data_card(capsys, adult_csv, tmp_path):
    import json

    model = tmp_path / "m.sosie"
    assert run(capsys, "fit", str(adult_csv), "--seed", "2", "-o", str(model))[0] == 0
    out = tmp_path / "synth.csv"
    assert (
        run(capsys, "sample", str(model), "-n", "100", "-c", "sex=Female", "-o", str(out))[0] == 0
    )
    card = json.loads((tmp_path / "synth.card.json").read_text())
    assert card["synthetic"]["n_rows"] == 100 and card["synthetic"]["conditions"] == {
        "sex": "Female"
    }
    assert card["generator"]["name"] == "gaussian_copula" and card["generator"]["seed_entropy"] == 2
    assert (tmp_path / "synth.card.md").read_text().startswith("# Data card")
    assert (
        run(capsys, "sample", str(model), "-n", "10", "--no-card", "-o", str(tmp_path / "b.csv"))[0]
        == 0
    )
    assert not (tmp_path / "b.card.json").exists()


def test_evaluate_and_policy_gate(capsys, adult_train, tmp_path):
    train = adult_train.iloc[:1500]
    hold = adult_train.iloc[1500:2500]
    write_table(train, tmp_path / "train.csv")
    write_table(hold, tmp_path / "hold.csv")
    model = tmp_path / "m.sosie"
    assert run(capsys, "fit", str(tmp_path / "train.csv"), "--seed", "0", "-o", str(model))[0] == 0
    assert (
        run(capsys, "sample", str(model), "-n", "1500", "-o", str(tmp_path / "syn.parquet"))[0] == 0
    )
    out = tmp_path / "eval"
    code, stdout, err = run(
        capsys,
        "evaluate",
        "--real",
        str(tmp_path / "train.csv"),
        "--holdout",
        str(tmp_path / "hold.csv"),
        "--synthetic",
        str(tmp_path / "syn.parquet"),
        "--target",
        "income",
        "--sensitive",
        "sex",
        "--model",
        str(model),
        "-o",
        str(out),
    )
    assert code == 0, err
    for name in ("report.html", "evaluation.json", "card.json", "card.md"):
        assert (out / name).exists(), name
    assert "<svg" in (out / "report.html").read_text()
    ok = tmp_path / "ok.yaml"
    ok.write_text("rules:\n  - exact_copies == 0\n  - tstr_ratio >= 0.5\n")
    code, stdout, _ = run(capsys, "check", str(out / "evaluation.json"), "--policy", str(ok))
    assert code == 0 and "policy passed" in stdout
    strict = tmp_path / "strict.yaml"
    strict.write_text("rules:\n  - detection_auc <= 0.5\n  - mia_auc <= 0.9\n")
    code, stdout, err = run(capsys, "check", str(out / "evaluation.json"), "--policy", str(strict))
    assert code == 1 and "detection_auc" in err and "1 of 2" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - detection_auc <<= 1\n")
    code, _, err = run(capsys, "check", str(out / "evaluation.json"), "--policy", str(bad))
    assert code == 2 and "rules[0]" in err


def test_event_data_fit_sample_evaluate(capsys, tmp_path):
    pytest.importorskip("torch")
    from sosie.datasets import load_rdataset

    panel = load_rdataset("sampleSelection", "nlswork")
    cols = ["idcode", "year", "race", "collgrad", "age", "union", "ln_wage"]
    ids = panel["idcode"].drop_duplicates().sample(frac=1, random_state=0)
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    write_table(panel[panel["idcode"].isin(ids.iloc[:300])][cols], train)
    write_table(panel[panel["idcode"].isin(ids.iloc[300:450])][cols], test)
    model, syn = tmp_path / "m.sosie", tmp_path / "syn.csv"
    fit = ["fit", str(train), "--entity", "idcode", "--time", "year", "-o", str(model)]
    code, _, err = run(capsys, *fit, "-p", "epochs=3", "-p", "hidden=16", "--seed", "0")
    assert code == 0, err
    code, _, err = run(capsys, "sample", str(model), "-n", "40", "-o", str(syn), "--seed", "1")
    assert code == 0, err
    out = read_table(syn)
    assert out["idcode"].nunique() == 40 and list(out.columns) == cols
    longer = tmp_path / "later.csv"
    code, _, err = run(
        capsys,
        "sample",
        str(model),
        "-n",
        "3",
        "--length",
        "20",
        "--start",
        "95",
        "-o",
        str(longer),
    )
    assert code == 0, err
    later = read_table(longer)
    assert (later.groupby("idcode").size() == 20).all() and later["year"].min() >= 95
    report = tmp_path / "ev"
    ev = ["evaluate", "--real", str(train), "--holdout", str(test), "--synthetic", str(syn)]
    code, _, err = run(
        capsys, *ev, "--model", str(model), "--target", "collgrad", "-o", str(report)
    )
    assert code == 0, err
    summary = json.loads((report / "evaluation.json").read_text())["summary"]
    assert {"sequence_length", "inter_arrival", "transitions", "detection_auc"} <= set(summary)
    assert "idcode" in (report / "report.html").read_text()
    card = (report / "card.json").read_text()
    assert '"sequences"' in card and '"entity": "idcode"' in card
    # the same without the model: --entity/--time
    code, _, err = run(capsys, *ev, "--entity", "idcode", "--time", "year", "-o", str(report))
    assert code == 0, err
    # event options on table data, and table generators on event data, are refused clearly
    code, _, err = run(capsys, "fit", str(train), "--time", "year", "-o", str(model))
    assert code == 2 and "--entity" in err
    code, _, err = run(capsys, *fit, "-g", "arf")
    assert code == 2 and "sequence generator" in err


def test_inspect_edit_fit_sample_keeps_the_rules(capsys, tmp_path):
    """Real churn data: inspect finds the charge formulas, the user edits the schema JSON
    (drops one rule, adds one), fit + sample keep exactly the rules in the file."""
    from sosie.constraints import Check, constraint_validity
    from sosie.datasets import load_rdataset

    churn = load_rdataset("modeldata", "mlc_churn").sample(2000, random_state=0)
    data = tmp_path / "churn.csv"
    write_table(churn, data)
    schema_path = tmp_path / "schema.json"
    code, out, _ = run(capsys, "inspect", str(data), "--schema-out", str(schema_path))
    assert code == 0 and "exact rules found in the data" in out
    doc = json.loads(schema_path.read_text())
    assert {"kind": "formula", "column": "total_day_charge"} in [
        {k: c.get(k) for k in ("kind", "column")} for c in doc["constraints"]
    ]
    assert "0.17 * total_day_minutes" in {c.get("expression") for c in doc["constraints"]}
    rules = [c for c in doc["constraints"] if not c.get("column") == "total_intl_charge"]
    rules.append({"kind": "check", "expression": "number_customer_service_calls <= 9"})
    doc["constraints"] = rules
    schema_path.write_text(json.dumps(doc))
    model, synth = tmp_path / "m.sosie", tmp_path / "s.csv"
    code, _, err = run(capsys, "fit", str(data), "--schema", str(schema_path), "-o", str(model))
    assert code == 0, err
    code, _, err = run(capsys, "sample", str(model), "-n", "1000", "--seed", "1", "-o", str(synth))
    assert code == 0, err
    s = read_table(synth)
    kept = sosie.load(model).schema_.constraints
    assert Check("number_customer_service_calls <= 9") in kept
    assert not any(getattr(c, "column", None) == "total_intl_charge" for c in kept)
    assert all(r["synthetic"] == 1.0 for r in constraint_validity(churn, s, kept))
    card = json.loads((tmp_path / "s.card.json").read_text())
    assert {r["kept"] for r in card["constraints"]} == {"by construction", "bounded rejection"}
