"""Recognising identifiers and personal data, and learning/generating id templates."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_TOKEN_RE = re.compile(r"\{([daAxX])(\d+|\+)\}")

ID_NAME_RE = re.compile(
    r"(^|_)(id|uuid|guid|key|pk)$|^(id|uuid|guid)(_|$)|(^|_)(id|uid)(_|$)", re.I
)
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)

EMAIL_RE = r"^[A-Za-z0-9._%+'\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$"
PHONE_RE = r"^\+?[\d\s().\-]{7,20}(\s*(x|ext\.?)\s*\d{1,5})?$"
SSN_RE = r"^\d{3}-\d{2}-\d{4}$"
IPV4_RE = r"^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$"
IBAN_RE = r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$"
CARD_RE = r"^\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{1,7}$"

_NAME_HINTS = {
    "name",
    "full_name",
    "fullname",
    "first_name",
    "firstname",
    "given_name",
    "last_name",
    "lastname",
    "surname",
    "family_name",
    "customer_name",
    "patient_name",
    "contact_name",
    "person",
    "employee_name",
}
_FIRST = {"first_name", "firstname", "given_name"}
_LAST = {"last_name", "lastname", "surname", "family_name"}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def _share(values: pd.Series, pattern: str) -> float:
    return float(values.str.fullmatch(pattern).mean()) if len(values) else 0.0


def detect_pii(name: str, values: pd.Series) -> tuple[str, str] | None:
    """Return ``(pii_kind, evidence)`` when a string column holds personal data."""
    n = _norm(name)
    sample = values.dropna().astype(str).iloc[:5000]
    if sample.empty:
        return None
    if _share(sample, EMAIL_RE) >= 0.9:
        return "email", f"{_share(sample, EMAIL_RE):.0%} of values look like e-mail addresses"
    if _share(sample, SSN_RE) >= 0.95:
        return "ssn", "values have the US social-security-number shape ddd-dd-dddd"
    if _share(sample, IPV4_RE) >= 0.95:
        return "ipv4", "values are IPv4 addresses"
    if _share(sample, IBAN_RE) >= 0.95 and re.search("iban|account", n):
        return "iban", "values look like IBANs and the name says so"
    if re.search(r"card|cc_?num|pan$", n) and _share(sample, CARD_RE) >= 0.9:
        return "credit_card", "card-number name and 13-19 digit values"
    phone_hint = re.search(r"phone|(^|_)tel(ephone)?(_|$)|mobile|(^|_)cell|fax", n)
    if phone_hint and _share(sample, PHONE_RE) >= 0.9:
        return "phone", f"name {name!r} suggests a phone number and values have phone shape"
    if re.search(r"address|street|addr(_|$)", n):
        kind = "street_address" if "street" in n else "address"
        return kind, f"name {name!r} suggests a postal address"
    if n in _NAME_HINTS or n.endswith("_full_name"):
        words = sample.str.split().str.len()
        capital = sample.str.match(r"^[A-Z][\w'\-.]*").mean()
        if words.median() <= 4 and capital >= 0.8:
            kind = "first_name" if n in _FIRST else "last_name" if n in _LAST else "name"
            return kind, f"name {name!r} suggests a person's name and values are capitalised words"
    return None


def looks_like_id_name(name: str) -> bool:
    """True for names such as ``id``, ``customer_id``, ``uuid``, ``order_key``."""
    return bool(ID_NAME_RE.search(_norm(name)))


def learn_template(values: pd.Series) -> str | None:
    """Learn a character template such as ``'CUST-{d6}'`` from unique string ids.

    Returns ``None`` when the strings share no structure.
    """
    s = values.dropna().astype(str)
    if s.empty:
        return None
    if s.str.fullmatch(UUID_RE.pattern).all():
        return "uuid"
    lengths = s.str.len()
    if lengths.nunique() == 1:
        length = int(lengths.iloc[0])
        arr = np.array([list(v) for v in s.iloc[:20000]], dtype="<U1")
        tokens: list[tuple[str, str]] = []
        for j in range(length):
            col = arr[:, j]
            first = col[0]
            if (col == first).all() and not first.isdigit():
                tokens.append(("lit", first))
            elif np.char.isdigit(col).all():
                tokens.append(("d", ""))
            elif np.char.isupper(col).all() and np.char.isalpha(col).all():
                tokens.append(("A", ""))
            elif np.char.islower(col).all() and np.char.isalpha(col).all():
                tokens.append(("a", ""))
            elif all(c in "0123456789abcdef" for c in set(col.tolist())):
                tokens.append(("x", ""))
            elif all(c.isalnum() and not c.islower() for c in set(col.tolist())):
                tokens.append(("X", ""))
            else:
                return None
        # merge runs
        out = []
        i = 0
        while i < len(tokens):
            kind, lit = tokens[i]
            j = i
            while j + 1 < len(tokens) and tokens[j + 1][0] == kind and kind != "lit":
                j += 1
            if kind == "lit":
                out.append(lit.replace("{", "{{").replace("}", "}}"))
            else:
                out.append(f"{{{kind}{j - i + 1}}}")
            i = j + 1
        template = "".join(out)
        return template if _TOKEN_RE.search(template) else None
    # variable length: literal prefix + digits
    m = s.str.extract(r"^(\D*)(\d+)$")
    if m.notna().all().all() and m[0].nunique() == 1 and not m[1].str.match(r"^0\d").any():
        prefix = str(m[0].iloc[0]).replace("{", "{{").replace("}", "}}")
        return f"{prefix}{{d+}}"
    return None


def template_numbers(values: pd.Series, template: str) -> tuple[int, int] | None:
    """For a template with exactly one digit field, the (min, max) number used by the data."""
    if template in ("uuid", "int"):
        return None
    fields = _TOKEN_RE.findall(template)
    if len(fields) != 1 or fields[0][0] != "d":
        return None
    rx = "^" + _template_regex(template) + "$"
    m = values.dropna().astype(str).str.extract(rx)
    if m.isna().any().any():
        return None
    nums = m[0].astype("int64")
    return int(nums.min()), int(nums.max())


def _template_regex(template: str) -> str:
    out = []
    pos = 0
    lit = template.replace("{{", "\0").replace("}}", "\1")
    for m in _TOKEN_RE.finditer(lit):
        out.append(re.escape(lit[pos : m.start()].replace("\0", "{").replace("\1", "}")))
        kind, width = m.groups()
        cls = {"d": r"\d", "a": "[a-z]", "A": "[A-Z]", "x": "[0-9a-f]", "X": "[0-9A-Z]"}[kind]
        out.append(f"({cls}+)" if width == "+" else f"({cls}{{{width}}})")
        pos = m.end()
    out.append(re.escape(lit[pos:].replace("\0", "{").replace("\1", "}")))
    return "".join(out)


def matches_template(values: pd.Series, template: str) -> pd.Series:
    """Boolean mask of values that match ``template``."""
    if template == "uuid":
        return values.astype(str).str.fullmatch(UUID_RE.pattern)
    return values.astype(str).str.fullmatch(_template_regex(template))


_ALPHABETS = {
    "d": np.array(list("0123456789")),
    "a": np.array(list("abcdefghijklmnopqrstuvwxyz")),
    "A": np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ")),
    "x": np.array(list("0123456789abcdef")),
    "X": np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")),
}


def generate_ids(
    template: str,
    n: int,
    rng: np.random.Generator,
    *,
    number_range: tuple[int, int] | None = None,
    start: int | None = None,
) -> list[str]:
    """Generate ``n`` new unique ids in the format of ``template``.

    With one digit field and the real data's ``number_range`` the numbers are
    drawn outside that range, so no real id is reproduced.
    """
    if n == 0:
        return []
    if template == "uuid":
        b = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
        b[:, 6] = (b[:, 6] & 0x0F) | 0x40
        b[:, 8] = (b[:, 8] & 0x3F) | 0x80
        hx = [row.tobytes().hex() for row in b]
        return [f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" for h in hx]
    lit = template.replace("{{", "\0").replace("}}", "\1")
    parts: list[str | tuple[str, str]] = []
    pos = 0
    for m in _TOKEN_RE.finditer(lit):
        parts.append(lit[pos : m.start()].replace("\0", "{").replace("\1", "}"))
        parts.append((m.group(1), m.group(2)))
        pos = m.end()
    parts.append(lit[pos:].replace("\0", "{").replace("\1", "}"))
    fields = [p for p in parts if isinstance(p, tuple)]
    if len(fields) == 1 and fields[0][0] == "d":
        width = fields[0][1]
        space_hi = 10 ** int(width) - 1 if width != "+" else 10**18
        lo, hi = number_range if number_range is not None else (0, -1)
        nums = _numbers_outside(n, lo, hi, space_hi, rng)
        strs = nums.astype(str)
        if width != "+":
            strs = np.char.zfill(strs, int(width))
        return [f"{parts[0]}{s}{parts[2]}" for s in strs.tolist()]
    # general template: random characters, dedupe
    out: set[str] = set()
    result: list[str] = []
    for _ in range(100):
        need = n - len(result)
        if need <= 0:
            break
        cols = []
        for p in parts:
            if isinstance(p, str):
                cols.append(np.full(need, p))
            else:
                w = 12 if p[1] == "+" else int(p[1])
                chars = _ALPHABETS[p[0]][rng.integers(0, len(_ALPHABETS[p[0]]), size=(need, w))]
                cols.append(np.array(["".join(r) for r in chars]))
        cand = cols[0]
        for c in cols[1:]:
            cand = np.char.add(cand, c)
        for c in cand.tolist():
            if c not in out:
                out.add(c)
                result.append(c)
    if len(result) < n:
        raise ValueError(f"id template {template!r} cannot hold {n} unique ids")
    return result[:n]


def _numbers_outside(
    n: int, lo: int, hi: int, space_hi: int, rng: np.random.Generator
) -> np.ndarray:
    """``n`` distinct sorted-random integers in [0, space_hi] avoiding [lo, hi]."""
    above = space_hi - hi if hi >= lo else space_hi + 1
    start = hi + 1 if hi >= lo else 0
    if above >= n:
        if above <= 4 * n:
            return start + rng.permutation(above)[:n]
        picks = np.unique(rng.integers(0, above, size=int(n * 1.2) + 16))
        while picks.size < n:
            picks = np.unique(np.concatenate([picks, rng.integers(0, above, size=n)]))
        return start + rng.permutation(picks)[:n]
    below = lo if hi >= lo else 0
    if above + below >= n:
        pool = np.concatenate([np.arange(start, space_hi + 1), np.arange(0, below)])
        return rng.permutation(pool)[:n]
    raise ValueError(
        f"only {above + below} ids are left outside the real range {lo}..{hi} of {space_hi + 1}; "
        f"cannot make {n} new ones"
    )
