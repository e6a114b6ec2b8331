"""End to end: the demo command on a fresh output folder, and the README's Python example."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import sosie
from sosie.io import read_table

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_command(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "sosie", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "synthetic.parquet" in proc.stdout and "model.sosie" in proc.stdout
    synth = read_table(out / "synthetic.parquet")
    real = sosie.datasets.load_adult("train")
    assert len(synth) == len(real) and list(synth.columns) == list(real.columns)
    schema = sosie.TableSchema.from_json(out / "schema.json")
    assert schema.names == list(real.columns)
    model = sosie.load(out / "model.sosie")
    assert model.fingerprint_ == sosie.generators.fingerprint(real)
    assert abs((synth["income"] == ">50K").mean() - (real["income"] == ">50K").mean()) < 0.02


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {})
