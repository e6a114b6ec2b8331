"""One step of one cell of ``run_generators.py``, in a fresh process; writes a JSON result.

Modes:

* ``fit``: import, load the training table, fit one generator, sample ``len(train)`` rows
  in one call, write them as CSV. Runs under sosie's interpreter (``gaussian_copula``,
  ``arf``, ``ctgan``, ``tabddpm``) or the throwaway SDV virtualenv (``sdv_*``). On the SDV
  side only the standard library, pandas and SDV are imported, never sosie.
* ``score``: sosie's interpreter only. Reads real train, real test and a synthetic CSV,
  aligns the synthetic dtypes to the real ones and computes fidelity (column shapes, pair
  trends, detection AUC...), utility (TSTR vs TRTR) and distance-to-closest-record with the
  same code for every model, so peers and sosie are scored identically.
* ``rebalance``: sosie's interpreter only. One arm of the rebalancing experiment: a
  ``HistGradientBoostingClassifier(random_state=0)`` trained on the real train alone
  (``real``), with SMOTE/SMOTENC minority rows (``smote``) or with sosie's synthetic
  minority rows (``sosie:<generator>``), scored on the real test split.

Peak memory is ``ru_maxrss`` of this process, so it belongs to this step alone; the
baseline after imports and loading is reported next to it.

Usage (normally started by run_generators.py)::

    python _generators_worker.py fit --model ctgan --train t.csv --dtypes d.json \
        --target income --synth out.csv --out result.json --params '{"max_epochs": 2}'
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import resource
import sys
import time
import traceback
import warnings
from typing import Any, ClassVar

SOSIE_MODELS = ("gaussian_copula", "arf", "ctgan", "tabddpm")
SDV_MODELS = ("sdv_gaussian_copula", "sdv_ctgan", "sdv_tvae")
NEURAL = ("ctgan", "tabddpm")
TABLE = "table"  # SDV 2.0 table name


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux: ru_maxrss is in KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def versions(names: tuple[str, ...]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


# --- tables --------------------------------------------------------------------------------


def read_table(path: str, dtypes: dict[str, str]) -> Any:
    """Read a CSV written by run_generators.py with the recorded dtypes (object for text).

    Used by every side (pandas 2 in the SDV virtualenv, pandas 3 in sosie's), so all of
    them fit and score exactly the same values: text stays ``object`` with ``NaN`` for
    missing, numbers keep their int64/float64 dtype, floats round-trip exactly.
    """
    import pandas as pd

    kwargs: dict[str, Any] = {}
    if int(pd.__version__.split(".")[0]) < 3:
        kwargs["float_precision"] = "round_trip"  # the default in pandas >= 3
    return pd.read_csv(
        path,
        dtype={c: (t if t in ("int64", "float64") else object) for c, t in dtypes.items()},
        keep_default_na=False,
        na_values=[""],
        **kwargs,
    )


def fingerprint(df: Any) -> str:
    """A pandas-version-independent digest of a table's columns, dtypes and values."""
    import hashlib

    h = hashlib.sha256()
    h.update(repr(list(df.columns)).encode())
    h.update(repr([str(t) for t in df.dtypes]).encode())
    h.update(repr(df.shape).encode())
    for column in df.columns:
        values = df[column]
        h.update(f"{column}:{int(values.isna().sum())}".encode())
        h.update(repr(["\0" if v != v else v for v in values.tolist()]).encode())
    return h.hexdigest()


def align_dtypes(synth: Any, real: Any) -> tuple[Any, list[str]]:
    """Coerce a synthetic table read from CSV to the real table's columns and dtypes.

    Numbers: ``to_numeric`` (unparsable -> NaN); int64 stays int64 when every value is a
    whole number and none is missing, otherwise float64. Text: ``object`` with the values
    as ``str`` (a target written as 0/1 by one side and "0"/"1" by the other compares
    equal). Returns the table and a list of what had to be changed.
    """
    import numpy as np
    import pandas as pd

    notes: list[str] = []
    missing = [c for c in real.columns if c not in synth.columns]
    extra = [c for c in synth.columns if c not in real.columns]
    if missing:
        raise ValueError(f"synthetic table lacks columns {missing}")
    if extra:
        notes.append(f"dropped extra columns {extra}")
    out = pd.DataFrame(index=synth.index)
    for column in real.columns:
        want = str(real[column].dtype)
        values = synth[column]
        if want in ("int64", "float64"):
            num = pd.to_numeric(values, errors="coerce")
            bad = int(num.isna().sum() - values.isna().sum())
            if bad:
                notes.append(f"{column}: {bad} unparsable values -> NaN")
            if want == "int64":
                finite = num.notna().all() and np.all(np.mod(num.to_numpy(dtype=float), 1) == 0)
                if finite:
                    num = num.astype("int64")
                else:
                    notes.append(f"{column}: int64 in the real data, kept as float64")
                    num = num.astype("float64")
            else:
                num = num.astype("float64")
            out[column] = num
        else:
            text = values.astype(object)
            out[column] = text.where(text.isna(), text.map(_as_text)).astype(object)
    return out.reset_index(drop=True), notes


def _as_text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


# --- fit ------------------------------------------------------------------------------------


class SosieSide:
    packages = ("sosie", "numpy", "pandas", "scipy", "scikit-learn", "torch")

    def __init__(self, model: str, params: dict[str, Any], overrides: dict[str, Any]):
        self.model, self.params, self.overrides = model, params, overrides

    def import_libraries(self) -> None:
        from sosie.generators import make_generator
        from sosie.schema import infer_schema

        if self.model == "tabddpm":
            import sosie.generators.diffusion  # noqa: F401  (experimental: not imported by default)
        self.make_generator, self.infer_schema = make_generator, infer_schema

    def fit(self, df: Any, seed: int) -> dict[str, Any]:
        schema = self.infer_schema(df, overrides=self.overrides or None)
        params = dict(self.params)
        if self.model == "tabddpm":
            params.setdefault("verbose", False)
        self.gen = self.make_generator(self.model, rng=seed, **params)
        self.gen.fit(df, schema=schema)
        info: dict[str, Any] = {
            "settings": repr(self.gen),
            "params": {k: v for k, v in self.gen.get_params().items() if k != "rng"},
            "schema_overrides": self.overrides,
        }
        for attr in ("epochs_", "stop_reason_", "fit_seconds_"):
            if hasattr(self.gen, attr):
                value = getattr(self.gen, attr)
                info[attr.rstrip("_")] = (
                    value if isinstance(value, (int, float, str)) else str(value)
                )
        return info

    def sample(self, n_rows: int) -> Any:
        return self.gen.sample(n_rows)


class SdvSide:
    packages = ("sdv", "rdt", "copulas", "ctgan", "numpy", "pandas", "scikit-learn", "torch")
    classes: ClassVar[dict[str, str]] = {
        "sdv_gaussian_copula": "GaussianCopulaSynthesizer",
        "sdv_ctgan": "CTGANSynthesizer",
        "sdv_tvae": "TVAESynthesizer",
    }

    def __init__(self, model: str, params: dict[str, Any], overrides: dict[str, Any]):
        self.model, self.params = model, params

    def import_libraries(self) -> None:
        import sdv.single_table
        from sdv.metadata import Metadata

        self.metadata_class = Metadata
        self.synthesizer_class = getattr(sdv.single_table, self.classes[self.model])

    def fit(self, df: Any, seed: int) -> dict[str, Any]:
        # SDV 2.0: metadata is multi-table; fit/sample take and return {table_name: DataFrame}.
        start = time.perf_counter()
        metadata = self.metadata_class.detect_from_dataframes({TABLE: df})
        detected = metadata.to_dict()["tables"][TABLE]
        detected_sdtypes = {c: s["sdtype"] for c, s in detected["columns"].items()}
        overrides = self._override(metadata, df)
        detect_s = time.perf_counter() - start
        self.synth = self.synthesizer_class(metadata, **self.params)
        _seed_sdv(seed)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*save_to_json.*")
            self.synth.fit({TABLE: df})
        info: dict[str, Any] = {
            "detect_s": detect_s,
            "detected_sdtypes": detected_sdtypes,
            "metadata_overrides": overrides,
            "settings": f"{self.classes[self.model]}(metadata, **{self.params!r})",
            "params": {
                k: v
                for k, v in self.synth.get_parameters().items()
                if isinstance(v, (int, float, str, bool, type(None), list, tuple))
            },
        }
        if "epochs" in info["params"]:
            info["epochs"] = info["params"]["epochs"]
            info["stop_reason"] = "epochs (SDV has no early stopping)"
        return info

    def _override(self, metadata: Any, df: Any) -> list[dict[str, Any]]:
        """Make the metadata say what the columns are (as sosie's schema does); record it."""
        expected = {
            str(c): ("numerical" if str(t) in ("int64", "float64") else "categorical")
            for c, t in df.dtypes.items()
        }
        overrides: list[dict[str, Any]] = []
        table = metadata.to_dict()["tables"][TABLE]
        if table.get("primary_key") is not None:
            overrides.append({"primary_key": table["primary_key"], "set": None})
            metadata.remove_primary_key(table_name=TABLE)
        for column, want in expected.items():
            got = table["columns"][column]["sdtype"]
            if got != want:
                metadata.update_column(column_name=column, table_name=TABLE, sdtype=want)
                overrides.append({"column": column, "detected": got, "set": want})
        return overrides

    def sample(self, n_rows: int) -> Any:
        return self.synth.sample(num_rows=n_rows)[TABLE]


def _seed_sdv(seed: int) -> None:
    """SDV draws from the global numpy and torch generators; seed them (this process only)."""
    import numpy as np

    np.random.seed(seed)  # noqa: NPY002  (SDV has no seed argument)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:
        pass


def run_fit(args: argparse.Namespace) -> dict[str, Any]:
    params = json.loads(args.params or "{}")
    overrides = json.loads(args.overrides or "{}")
    side_class = SdvSide if args.model in SDV_MODELS else SosieSide
    side = side_class(args.model, params, overrides)
    result: dict[str, Any] = {
        "mode": "fit",
        "model": args.model,
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "pid": os.getpid(),
        "thread_env": {k: v for k, v in os.environ.items() if k.endswith("_NUM_THREADS")},
    }
    start = time.perf_counter()
    side.import_libraries()
    result["import_s"] = time.perf_counter() - start
    result["versions"] = versions(side.packages)
    result["rss_after_import"] = peak_rss_bytes()
    with open(args.dtypes, encoding="utf-8") as handle:
        dtypes = json.load(handle)
    df = read_table(args.train, dtypes)
    result["data_fingerprint"] = fingerprint(df)
    result["data_shape"] = list(df.shape)
    result["rss_after_load"] = peak_rss_bytes()

    start = time.perf_counter()
    result.update(side.fit(df, args.seed))
    result["fit_s"] = time.perf_counter() - start
    result["peak_rss_fit"] = peak_rss_bytes()

    n_rows = args.n_sample or len(df)
    start = time.perf_counter()
    out = side.sample(n_rows)
    elapsed = time.perf_counter() - start
    result["sample_n"] = n_rows
    result["sample_s"] = elapsed
    result["sample_rows_per_s"] = n_rows / elapsed if elapsed > 0 else None
    result["peak_rss"] = peak_rss_bytes()
    problems = []
    if len(out) != n_rows:
        problems.append(f"asked for {n_rows} rows, got {len(out)}")
    if list(map(str, out.columns)) != list(map(str, df.columns)):
        problems.append(f"columns differ: {list(out.columns)}")
    result["sample_dtypes"] = {str(c): str(t) for c, t in out.dtypes.items()}
    result["problems"] = problems
    tmp = f"{args.synth}.tmp"
    out.to_csv(tmp, index=False)
    os.replace(tmp, args.synth)
    result["machine"] = platform.machine()
    result["status"] = "ok"
    return result


# --- score ----------------------------------------------------------------------------------


def run_score(args: argparse.Namespace) -> dict[str, Any]:
    import math

    from sosie.evaluate.fidelity import fidelity_metrics
    from sosie.evaluate.privacy import distance_to_closest_record
    from sosie.evaluate.utility import utility_metrics
    from sosie.schema import infer_schema

    with open(args.dtypes, encoding="utf-8") as handle:
        dtypes = json.load(handle)
    overrides = json.loads(args.overrides or "{}")
    train = read_table(args.train, dtypes)
    test = read_table(args.test, dtypes)
    raw = read_table(args.synth, {c: t for c, t in dtypes.items() if t not in ("int64", "float64")})
    synth, notes = align_dtypes(raw, train)
    schema = infer_schema(train, overrides=overrides or None)
    result: dict[str, Any] = {
        "mode": "score",
        "n_train": len(train),
        "n_test": len(test),
        "n_synthetic": len(synth),
        "dtype_notes": notes,
        "schema_overrides": overrides,
        "seconds": {},
    }

    def finite(v: Any) -> float | None:
        try:
            f = float(v)
        except (TypeError, ValueError):
            return None
        return f if math.isfinite(f) else None

    t0 = time.perf_counter()
    fid = {
        m.name: m
        for m in fidelity_metrics(train, synth, schema, rng=0, max_rows=args.detection_rows)
    }
    result["seconds"]["fidelity"] = time.perf_counter() - t0
    result["fidelity"] = {name: finite(m.value) for name, m in fid.items()}
    result["fidelity"]["quality_score"] = (
        (result["fidelity"]["column_shapes"] + result["fidelity"]["pair_trends"]) / 2
        if result["fidelity"].get("column_shapes") is not None
        and result["fidelity"].get("pair_trends") is not None
        else None
    )
    det = fid.get("detection_auc")
    result["detection_ci"] = list(det.ci) if det is not None and det.ci else None
    result["detection_top_features"] = (det.details or {}).get("top_features") if det else None
    result["column_shapes_breakdown"] = (
        fid["column_shapes"].breakdown if "column_shapes" in fid else None
    )

    t0 = time.perf_counter()
    utility = utility_metrics(train, test, synth, schema, args.target, rng=0, n_boot=args.n_boot)
    result["seconds"]["utility"] = time.perf_counter() - t0
    by = {m.name: m for m in utility}
    result["utility"] = {"tstr_ratio": finite(by["tstr_ratio"].value)}
    for name, m in by.items():
        if name.startswith("utility_"):
            score = name.removeprefix("utility_")
            result["utility"][f"tstr_{score}"] = finite(m.value)
            result["utility"][f"trtr_{score}"] = finite(m.baseline)
            if m.ci:
                result["utility"][f"tstr_{score}_ci"] = [finite(x) for x in m.ci]
            result["utility"][f"{score}_by_model"] = (m.details or {}).get("models")

    t0 = time.perf_counter()
    dcr = {
        m.name: m
        for m in distance_to_closest_record(train, test, synth, schema, rng=0, n_boot=args.n_boot)
    }
    result["seconds"]["privacy"] = time.perf_counter() - t0
    result["privacy"] = {name: finite(m.value) for name, m in dcr.items()} | {
        f"{name}_baseline": finite(m.baseline) for name, m in dcr.items()
    }
    result["privacy_details"] = {
        k: v
        for k, v in (dcr["dcr_share"].details or {}).items()
        if k.startswith("n_") or k in ("subsampled", "equal_size", "ties")
    }
    result["status"] = "ok"
    return result


# --- rebalance ------------------------------------------------------------------------------


def run_rebalance(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import (
        average_precision_score,
        f1_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )
    from sklearn.preprocessing import OrdinalEncoder

    with open(args.dtypes, encoding="utf-8") as handle:
        dtypes = json.load(handle)
    overrides = json.loads(args.overrides or "{}")
    params = json.loads(args.params or "{}")
    train = read_table(args.train, dtypes)
    test = read_table(args.test, dtypes)
    target, arm = args.target, args.arm
    counts = train[target].value_counts()
    minority = counts.index[-1]
    features = [c for c in train.columns if c != target]
    categorical = [c for c in features if dtypes[c] not in ("int64", "float64")]
    result: dict[str, Any] = {
        "mode": "rebalance",
        "arm": arm,
        "ratio": args.ratio,
        "minority": minority,
        "n_train": len(train),
        "n_train_minority": int(counts[minority]),
        "n_test": len(test),
        "n_test_minority": int((test[target] == minority).sum()),
        "categorical_features": categorical,
        "versions": versions(("sosie", "scikit-learn", "imbalanced-learn", "numpy", "pandas")),
        "rss_after_load": peak_rss_bytes(),
    }

    t0 = time.perf_counter()
    if arm == "real":
        data = train
        result["method"] = "real train only"
    elif arm == "smote":
        from imblearn.over_sampling import SMOTE, SMOTENC

        X, y = train[features], train[target]
        if categorical:
            sampler = SMOTENC(
                categorical_features=[features.index(c) for c in categorical],
                sampling_strategy=args.ratio,
                random_state=0,
            )
            result["method"] = (
                f"SMOTENC(categorical_features={len(categorical)} text columns, "
                f"sampling_strategy={args.ratio}, random_state=0, k_neighbors=5)"
            )
        else:
            sampler = SMOTE(sampling_strategy=args.ratio, random_state=0)
            result["method"] = (
                f"SMOTE(sampling_strategy={args.ratio}, random_state=0, k_neighbors=5)"
            )
        Xr, yr = sampler.fit_resample(X, y)
        data = pd.concat([pd.DataFrame(Xr, columns=features), pd.Series(yr, name=target)], axis=1)
    elif arm.startswith("sosie:"):
        from sosie import rebalance
        from sosie.schema import infer_schema

        name = arm.split(":", 1)[1]
        if name == "tabddpm":
            import sosie.generators.diffusion  # noqa: F401

            params.setdefault("verbose", False)
        schema = infer_schema(train, overrides=overrides or None)
        out = rebalance(
            train, target, ratio=args.ratio, generator=name, schema=schema, rng=0, **params
        )
        marker = "synthetic"  # rebalance's default marker column: True for synthetic rows
        result["n_synthetic_rows"] = int(out[marker].sum())
        data = out.drop(columns=[marker])
        result["method"] = (
            f"sosie.rebalance(train, {target!r}, ratio={args.ratio}, generator={name!r}, "
            f"schema=<inferred{' + overrides' if overrides else ''}>, rng=0"
            + "".join(f", {k}={v!r}" for k, v in params.items())
            + ")"
        )
    else:
        raise ValueError(f"unknown arm {arm!r}")
    result["augment_s"] = time.perf_counter() - t0
    result["n_fit_rows"] = len(data)
    result["n_fit_minority"] = int((data[target] == minority).sum())
    result["peak_rss_augment"] = peak_rss_bytes()

    # Same encoding and classifier for every arm: categoricals ordinal-encoded by an encoder
    # fitted on the real train (unknown -> NaN) and used as HGB's native categories.
    encoder = None
    if categorical:
        encoder = OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
        ).fit(train[categorical])

    def matrix(df: Any) -> Any:
        X = df[features].copy()
        if encoder is not None:
            X[categorical] = encoder.transform(df[categorical])
        return X.astype("float64").to_numpy()

    mask = np.array([c in categorical for c in features])
    model = HistGradientBoostingClassifier(
        random_state=0, categorical_features=mask if mask.any() else None
    )
    y_fit = (data[target] == minority).to_numpy()
    t0 = time.perf_counter()
    model.fit(matrix(data), y_fit)
    result["classifier_fit_s"] = time.perf_counter() - t0
    proba = model.predict_proba(matrix(test))[:, 1]
    pred = proba >= 0.5
    y_test = (test[target] == minority).to_numpy()
    result["classifier"] = (
        "HistGradientBoostingClassifier(random_state=0, categorical_features=<ordinal-encoded "
        "text columns>)"
        if mask.any()
        else "HistGradientBoostingClassifier(random_state=0)"
    )
    result["metrics"] = {
        "minority_f1": float(f1_score(y_test, pred, zero_division=0)),
        "minority_recall": float(recall_score(y_test, pred, zero_division=0)),
        "minority_precision": float(precision_score(y_test, pred, zero_division=0)),
        "average_precision": float(average_precision_score(y_test, proba)),
        "roc_auc": float(roc_auc_score(y_test, proba)),
    }
    result["peak_rss"] = peak_rss_bytes()
    result["status"] = "ok"
    return result


# --- main -----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("fit", "score", "rebalance"))
    parser.add_argument("--model", choices=SOSIE_MODELS + SDV_MODELS)
    parser.add_argument("--arm", help="rebalance arm: real, smote or sosie:<generator>")
    parser.add_argument("--train", required=True)
    parser.add_argument("--test")
    parser.add_argument("--synth", help="fit: where to write the sample; score: what to read")
    parser.add_argument("--dtypes", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--params", help="JSON keyword arguments for the model")
    parser.add_argument("--overrides", help="JSON schema overrides for sosie's infer_schema")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-sample", type=int, help="rows to sample (default: len(train))")
    parser.add_argument("--detection-rows", type=int, default=10_000)
    parser.add_argument("--n-boot", type=int, default=100)
    parser.add_argument("--ratio", type=float, default=0.25)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    try:
        result = {"fit": run_fit, "score": run_score, "rebalance": run_rebalance}[args.mode](args)
    except Exception as exc:
        result = {
            "mode": args.mode,
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
            "peak_rss": peak_rss_bytes(),
        }
    tmp = f"{args.out}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1, default=str)
    os.replace(tmp, args.out)
    return 0 if result["status"] == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
