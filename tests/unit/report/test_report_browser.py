"""The report in a real browser: headless Chromium renders it, takes a screenshot, dumps the DOM.

Needs Chromium (Debian: ``apt-get install -y chromium``); skipped when it is not installed.
The screenshot is decoded with the standard library and NumPy only (no imaging dependency).
Set ``SOSIE_SCREENSHOT_DIR`` to keep the screenshot and the page (e.g. as CI artifacts).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from sosie.report import write_html

_spec = importlib.util.spec_from_file_location(
    "_report_factory", Path(__file__).with_name("test_report_html.py")
)
_factory = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(_factory)  # type: ignore[union-attr]
HOSTILE = _factory.HOSTILE
make_card = _factory.make_card
make_evaluation = _factory.make_evaluation

# runs script if it ever reaches the DOM as markup; the DOM dump then shows data-pwned on <body>
PWN = '<img src=x onerror="document.body.dataset.pwned=1"><script>document.body.dataset.pwned=2</script>'
WIDTH, HEIGHT = 1280, 2400
REAL_RGB, SYNTH_RGB = (0x00, 0x72, 0xB2), (0xE6, 0x9F, 0x00)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(
        "Chromium is not installed: the browser test of the report needs it "
        "(Debian/Ubuntu: apt-get install -y chromium)"
    )


def _run(browser: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--hide-scrollbars", f"--user-data-dir={tmp / 'profile'}", *args,
    ]  # fmt: skip
    env = {**os.environ, "HOME": str(tmp)}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, check=False)


def read_png(path: Path) -> np.ndarray:
    """Decode an 8-bit RGB/RGBA, non-interlaced PNG to an ``(h, w, channels)`` array."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    assert header is not None
    w, h, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    out = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.uint8)
    for r in range(h):
        base = r * (stride + 1)
        kind = raw[base]
        line = np.frombuffer(raw, np.uint8, stride, base + 1)
        if kind == 0:
            cur = line.copy()
        elif kind == 1:  # Sub: a running sum per channel
            cur = (line.reshape(-1, bpp).astype(np.int64).cumsum(axis=0) % 256).astype(np.uint8)
            cur = cur.ravel()
        elif kind == 2:  # Up
            cur = line + prev
        else:  # Average and Paeth depend on the byte to the left: byte by byte
            buf, up = bytearray(line.tobytes()), prev.tobytes()
            for i in range(stride):
                a = buf[i - bpp] if i >= bpp else 0
                b = up[i]
                if kind == 3:
                    buf[i] = (buf[i] + ((a + b) >> 1)) & 255
                    continue
                c = up[i - bpp] if i >= bpp else 0
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                buf[i] = (buf[i] + pred) & 255
            cur = np.frombuffer(bytes(buf), np.uint8)
        out[r] = cur
        prev = cur
    return out.reshape(h, w, bpp)[:, :, :3]


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.attrs: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.attrs.update(a for a, _ in attrs)

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def browser() -> str:
    return _chromium()


@pytest.fixture(scope="module")
def hostile_page(tmp_path_factory) -> Path:
    ev = make_evaluation(HOSTILE)
    for m in ev.metrics:
        m.description = HOSTILE[0] + " " + m.description + PWN
    ev.meta["note"] = HOSTILE[1] + PWN
    ev.metrics[0].details["columns"][PWN] = ev.metrics[0].details["columns"][HOSTILE[3]]
    out = tmp_path_factory.mktemp("report") / "report.html"
    return write_html(ev, out, card=make_card(HOSTILE[1]), title="Report " + HOSTILE[2])


def test_screenshot_is_a_real_rendering(browser, tmp_path):
    # Setup
    page = write_html(make_evaluation(), tmp_path / "report.html", card=make_card())
    png = tmp_path / "report.png"
    # Run
    proc = _run(
        browser, tmp_path, f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}", page.as_uri()
    )
    # Assert
    assert png.exists(), proc.stderr[-2000:]
    keep = os.environ.get("SOSIE_SCREENSHOT_DIR")  # e.g. a CI artifact folder, for a human look
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / "report.png")
        shutil.copy(page, Path(keep) / "report.html")
    assert png.stat().st_size > 50_000  # a blank page of this size is about 10 kB
    img = read_png(png)
    assert img.shape == (HEIGHT, WIDTH, 3)
    ink = img.min(axis=2) < 235
    assert 0.03 < ink.mean() < 0.6, ink.mean()  # neither blank nor a solid block
    assert ink[:400].mean() > 0.02  # the header and summary sit at the top
    assert len(np.unique(img[::3, ::3].reshape(-1, 3), axis=0)) > 200  # text, plots, badges

    def count(rgb):
        return int((np.abs(img.astype(int) - rgb).sum(axis=2) <= 6).sum())

    assert count(REAL_RGB) > 500 and count(SYNTH_RGB) > 500  # the plots drew both colours


def test_hostile_strings_stay_text_in_the_browser(browser, hostile_page, tmp_path):
    # Run
    proc = _run(
        browser, tmp_path, "--dump-dom", "--virtual-time-budget=2000", hostile_page.as_uri()
    )
    # Assert
    dom = proc.stdout
    assert "<body" in dom, proc.stderr[-2000:]
    parsed = _Dom()
    parsed.feed(dom)
    assert not {"script", "img", "b", "iframe", "object", "embed"} & set(parsed.tags)
    assert not {a for a in parsed.attrs if a.startswith("on")}
    text = "".join(parsed.text)
    assert HOSTILE[0] in text and HOSTILE[1] in text  # shown verbatim, as text
    assert "Summary" in text and "Fidelity" in text
    assert parsed.tags.get("svg") == 15  # "</svg>" in a name closed no plot early
    assert "data-pwned" not in dom  # no injected script ran


def test_the_injection_probe_would_catch_an_unescaped_page(browser, tmp_path):
    """Control: the same probe, pasted raw into a page without the report's CSP, does run."""
    page = tmp_path / "raw.html"
    page.write_text(f"<!DOCTYPE html><html><body><p>{PWN}</p></body></html>", encoding="utf-8")
    proc = _run(browser, tmp_path, "--dump-dom", "--virtual-time-budget=2000", page.as_uri())
    assert "data-pwned" in proc.stdout, proc.stderr[-2000:]


def test_hostile_page_screenshot_renders(browser, hostile_page, tmp_path):
    png = tmp_path / "hostile.png"
    _run(
        browser,
        tmp_path,
        f"--screenshot={png}",
        f"--window-size={WIDTH},1200",
        hostile_page.as_uri(),
    )
    img = read_png(png)
    assert img.shape == (1200, WIDTH, 3)
    assert (img.min(axis=2) < 235).mean() > 0.03
