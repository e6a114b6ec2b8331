"""Policy gate: rules over an evaluation's numbers, for CI pipelines.

A policy is YAML or JSON::

    rules:
      - mia_auc <= 0.55
      - tstr_ratio >= 0.95
      - exact_copies == 0
      - detection_auc <= 0.7

Each rule compares one number of the evaluation with a constant. Names are keys of
``Evaluation.summary`` or metric names (their ``value``); ``name.normalized``,
``name.ci_low``, ``name.ci_high`` and ``name.baseline`` reach the other fields.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import Problem, SchemaError
from .evaluate import Evaluation

__all__ = ["Rule", "RuleResult", "check_policy", "load_policy"]

_OPS = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
    "==": operator.eq,
    "!=": operator.ne,
}
_RULE_RE = re.compile(
    r"^\s*([A-Za-z_][\w\[\]\-.,]*)\s*(<=|>=|==|!=|<|>)\s*([-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)\s*$"
)


@dataclass(frozen=True)
class Rule:
    """``name op threshold``, e.g. ``mia_auc <= 0.55``."""

    name: str
    op: str
    threshold: float

    def __str__(self) -> str:
        return f"{self.name} {self.op} {self.threshold:g}"


@dataclass(frozen=True)
class RuleResult:
    """A rule, the value found and whether it passed (``reason`` says why it failed)."""

    rule: Rule
    value: float | None
    passed: bool
    reason: str


def _parse_rule(text: Any, where: str) -> Rule:
    m = _RULE_RE.match(str(text)) if isinstance(text, str) else None
    if not m:
        raise SchemaError(
            Problem(
                where,
                "a rule of the form 'name <op> number' with op one of <=, >=, <, >, ==, !=",
                repr(text),
                "write e.g. 'mia_auc <= 0.55'",
            )
        )
    return Rule(m.group(1), m.group(2), float(m.group(3)))


def load_policy(source: str | Path | dict[str, Any]) -> list[Rule]:
    """Read a policy (path, YAML text or dict) into rules; every malformed rule is reported.

    Example:
        >>> [str(r) for r in load_policy({"rules": ["mia_auc <= 0.55", "exact_copies == 0"]})]
        ['mia_auc <= 0.55', 'exact_copies == 0']
    """
    where = "policy"
    if isinstance(source, dict):
        data = source
    else:
        text = str(source)
        if isinstance(source, Path) or (
            "\n" not in text and not text.lstrip().startswith(("{", "rules"))
        ):
            p = Path(source)
            where = f"policy file {str(p)!r}"
            try:
                text = p.read_text(encoding="utf-8")
            except OSError as e:
                raise SchemaError(
                    Problem(
                        where, "a readable YAML/JSON file", e.strerror or str(e), "check the path"
                    )
                ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise SchemaError(
                Problem(where, "valid YAML or JSON", str(e).splitlines()[0], "fix the syntax")
            ) from None
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise SchemaError(
            Problem(
                where,
                "a mapping with a list under 'rules'",
                type(data).__name__,
                "write rules: [ 'mia_auc <= 0.55' ]",
            )
        )
    rules, problems = [], []
    for i, r in enumerate(data["rules"]):
        try:
            rules.append(_parse_rule(r, f"{where}, rules[{i}]"))
        except SchemaError as e:
            problems += e.errors
    if problems:
        raise SchemaError(problems)
    return rules


def _lookup(ev: Evaluation, name: str) -> float | None:
    if name in ev.summary:
        return ev.summary[name]
    base, _, field = name.rpartition(".") if "." in name else (name, "", "")
    if not base:
        base, field = name, ""
    if base in ev:
        m = ev[base]
        if field in ("", "value"):
            return m.value
        if field == "normalized":
            return m.normalized
        if field == "baseline":
            return m.baseline
        if field in ("ci_low", "ci_high") and m.ci is not None:
            return m.ci[0] if field == "ci_low" else m.ci[1]
    return None


def check_policy(evaluation: Evaluation, rules: list[Rule]) -> list[RuleResult]:
    """Apply ``rules``; a rule whose number is missing or NaN fails (it cannot be shown to hold).

    Example:
        >>> from sosie.evaluate import Evaluation
        >>> ev = Evaluation([], summary={"mia_auc": 0.61})
        >>> [r.passed for r in check_policy(ev, load_policy({"rules": ["mia_auc <= 0.55"]}))]
        [False]
    """
    out = []
    for rule in rules:
        v = _lookup(evaluation, rule.name)
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            known = ", ".join(sorted(evaluation.summary)[:30])
            out.append(
                RuleResult(
                    rule, None, False, f"{rule.name!r} is not in the evaluation (known: {known})"
                )
            )
            continue
        ok = bool(_OPS[rule.op](float(v), rule.threshold))
        out.append(
            RuleResult(
                rule, float(v), ok, "" if ok else f"{rule.name} = {float(v):.4g}, required {rule}"
            )
        )
    return out
