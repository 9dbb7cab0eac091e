"""The report of a small real run, rendered in a headless browser (Chromium).

What a reader sees is checked on the page Chromium renders, not on the HTML text: the page
paints (a screenshot that is not blank, figures in colour), the table of contents links to
sections that exist, every table has a header, AUCs are numbers and not percentages, and no
Python list repr or absolute path of this machine reaches the page.

Chromium is a system package (Debian: ``apt-get install chromium``; ``.ci/run`` installs
it). Outside CI a machine without it skips these tests; in CI (``CI`` set) a missing browser
is a failure, never a silent skip (as for the shared data in tests/conftest.py).
"""

from __future__ import annotations

import base64
import html.parser
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from eegsnn.pipeline import run_pipeline

pytest.importorskip("matplotlib")

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--disable-dev-shm-usage")
SECTIONS = ("Study", "Results on held-out data", "Class balance", "Confusion matrix",
            "ROC curve", "Spiking activity", "Data provenance", "Configuration",
            "Environment")


@pytest.fixture(scope="module")
def chromium() -> str:
    """The Chromium executable (``EEGSNN_CHROMIUM`` or the first on ``PATH``)."""
    found = os.environ.get("EEGSNN_CHROMIUM") or next(
        (p for p in map(shutil.which, BROWSERS) if p), None)
    if not found:
        message = ("no headless browser found (install Debian's chromium: apt-get install "
                   "chromium; or set EEGSNN_CHROMIUM)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def _browser(exe: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def rendered(chromium, repo_root, tmp_path_factory):
    """A two-hidden-layer run of the shipped Bonn example (overrides change the task's
    model and split), its report rendered: ``(run dir, DOM text, screenshot path)``."""
    base = tmp_path_factory.mktemp("render")
    run = base / "bonn_small_run"
    run_pipeline(repo_root / "configs" / "bonn_example.yaml", run, progress=False,
                 overrides=["train.epochs=2", "encoder.spikes_per_s=20", "model.hidden=[16,8]",
                            "split.test_fraction=0.3", f"cache_dir={base / 'cache'}"])
    page = (run / "report.html").as_uri()
    dom = _browser(chromium, base, "--dump-dom", page)
    assert dom.returncode == 0 and "<html" in dom.stdout, dom.stderr[-2000:]
    shot = base / "report.png"
    res = _browser(chromium, base, f"--screenshot={shot}", "--window-size=1280,5000", page)
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    return run, dom.stdout, shot


class _Page(html.parser.HTMLParser):
    """Ids, links, headings, tables (header + rows of cell text) and text of a DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.headings: list[tuple[str, str]] = []
        self.tables: list[dict[str, list]] = []
        self.images: list[str] = []
        self.text: list[str] = []
        self._heading: str | None = None
        self._cell: list[str] | None = None
        self._in_head = False
        self._row: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "img":
            self.images.append(a.get("src") or "")
        if tag in ("h1", "h2", "h3"):
            self._heading = tag
            self.headings.append((tag, ""))
        if tag == "table":
            self.tables.append({"header": [], "rows": []})
        if tag == "thead":
            self._in_head = True
        if tag == "tr":
            self._row = []
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3"):
            self._heading = None
        if tag == "thead":
            self._in_head = False
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        if tag == "tr" and self.tables:
            key = "header" if self._in_head else "rows"
            if key == "header":
                self.tables[-1]["header"] = self._row
            else:
                self.tables[-1]["rows"].append(self._row)

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._heading is not None:
            tag, text = self.headings[-1]
            self.headings[-1] = (tag, text + data)


def _parse(dom: str) -> _Page:
    page = _Page()
    page.feed(dom)
    return page


def test_report_renders_and_is_not_blank(rendered):
    from matplotlib.image import imread

    _, _, shot = rendered
    img = imread(shot)[..., :3]
    assert img.shape[:2] == (5000, 1280)
    dark = img.mean(axis=-1) < 0.6  # text, lines, plot marks
    assert dark.mean() > 0.01, "the screenshot is (almost) blank"
    # the embedded figures were decoded and painted: coloured pixels (the confusion
    # matrices' blues, the ROC curves, membrane traces), not only black text on white
    saturation = img.max(axis=-1) - img.min(axis=-1)
    assert (saturation > 0.3).mean() > 0.01
    # the page is laid out in a centred column: the left margin stays white
    assert img[:, :40].min() > 0.95


def test_contents_link_to_sections_that_exist(rendered):
    _, dom, _ = rendered
    page = _parse(dom)
    h2 = [text.strip() for tag, text in page.headings if tag == "h2"]
    assert h2[0] == "Contents"
    for name in SECTIONS:
        assert name in h2, f"section {name!r} missing: {h2}"
    anchors = [link[1:] for link in page.links if link.startswith("#")]
    assert len(anchors) >= len(SECTIONS)
    missing = [a for a in anchors if a not in page.ids]
    assert not missing, f"contents link to missing anchors {missing}"
    # every section heading (h2/h3) of the body is in the contents
    assert len(anchors) == len([h for h in page.headings if h[0] in ("h2", "h3")]) - 1


def test_tables_have_headers_and_one_metric_format(rendered):
    _, dom, _ = rendered
    page = _parse(dom)
    assert len(page.tables) >= 6
    for table in page.tables:
        assert table["header"] and all(table["header"]), table["header"]
        width = len(table["header"])
        assert all(len(row) == width for row in table["rows"]), table
    auc_rows = [row for t in page.tables for row in t["rows"] if row and "AUC" in row[0]]
    assert auc_rows
    for row in auc_rows:  # AUC: a number in [0, 1] with three decimals, never "%"
        for cell in row[1:]:
            assert "%" not in cell
            if cell:
                assert 0 <= float(cell.split()[0]) <= 1 and re.match(r"^\d\.\d{3}\b", cell)
    acc = [row for t in page.tables for row in t["rows"] if row and row[0] == "accuracy"]
    assert acc and all(c.endswith(("%", "]")) and "%" in c for row in acc for c in row[1:] if c)


def test_no_list_repr_absolute_path_or_integrator_rate(rendered, repo_root):
    run, dom, _ = rendered
    page = _parse(dom)
    text = " ".join(page.text)
    for pattern in (r"\['", r"\[\"", r"\{'", r"', '"):
        assert not re.search(pattern, text), f"Python repr {pattern!r} in the page"
    for path in (str(run), str(run.parent), str(repo_root), str(Path.home())):
        assert path not in dom, f"absolute path {path} in the page"
    assert not re.search(r"(?<![\w.])/(?:home|root|tmp|work|Users)/", text)
    # one naming scheme for the layers; the non-spiking output has no firing rate
    assert "layers.1.leaky" not in text and "layer0" not in text
    rates = next(t for t in page.tables
                 if t["header"] == ["layer", "spikes per neuron per step", "Hz"])
    assert [row[0] for row in rates["rows"]] == ["hidden 1 (Leaky, 16)",
                                                 "hidden 2 (Leaky, 8)"]
    assert "output (Leaky integrator, 3) does not spike" in text
    # the raster's time axis is in seconds: 4 s windows at 20 steps per second
    assert "80 steps of 50 ms over the 4 s window" in text
    # the task as run (overrides included) beside the config's own free text
    study = next(t for t in page.tables if t["header"] == ["setting", "value"])
    values = dict(map(tuple, study["rows"]))
    assert values["model (SNN)"].startswith("hidden 1 (Leaky, 16) -> hidden 2 (Leaky, 8) -> "
                                            "output (Leaky integrator, 3)")
    assert "30 % of the recordings held out" in values["split"]
    assert "written before any --set override" in text
    # every figure is an embedded PNG
    assert len(page.images) >= 4
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    # the class counts shown are those of the run
    counts = next(t for t in page.tables if t["header"][:2] == ["class", "windows"])
    assert {r[0]: int(r[1]) for r in counts["rows"]} == {"healthy": 200, "interictal": 200,
                                                         "ictal": 100}
    assert values["data"].startswith("100 recordings, 500 windows of 4 s")
