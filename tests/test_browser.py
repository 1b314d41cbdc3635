"""The example notebooks' pictures as students see them, checked in a real browser.

Each notebook is executed in a fresh kernel, exported to HTML by nbconvert (its "lab" template, what `jupyter
nbconvert --to html` writes) and opened in headless Chromium (Debian's `chromium`, driven by Playwright), in two
views: "trusted", as Jupyter shows a notebook you ran (drawings as SVG), and "untrusted", as Jupyter shows a
notebook it does not trust and GitHub shows any (nbconvert's SanitizeHTML: PNG, JPEG and text stay, SVG goes).
From each rendered page:

- no output area scrolls sideways: every picture fits the output column (and the page does not scroll sideways);
  no line of code is wider than its input area (the lab template cuts it off at the edge);
- every cell tagged "picture" shows an image that loaded (an <img> with naturalWidth > 0, or an inline <svg> of
  nonzero size), not the text of its value;
- a drawing's text is there: the words TEXT lists (node names, values), read from the SVG's <text> elements (a
  PNG's text is pixels, so the untrusted view checks presence and fit only);
- no cell wrote to stderr (nbconvert's stderr boxes: data-mime-type="application/vnd.jupyter.stderr").

A full-page screenshot of every page is saved in the test's tmp dir, whatever the outcome;
`pytest tests/test_browser.py --update-screenshots` also copies those named in SCREENSHOTS into docs/screenshots/.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import pytest
from conftest import require
from notebooks import EXAMPLES, ROOT, execute, have_jupyter, offline

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package, installed by scripts/setup.sh (never a downloaded build)
# 1024 px wide: nbconvert's lab template then leaves outputs a 902-px column, what students have: JupyterLab on
# a 1280-px laptop screen with its file browser open gives ~900 px beside the prompts, the classic Notebook a
# 940-px page. A picture that fits it fits any wider window.
VIEWPORT = {"width": 1024, "height": 768}
VIEWS = {"trusted": False, "untrusted": True}  # view → untrusted
NOTEBOOKS = ("seeing_the_graph", "neural_networks")
SCREENSHOTS = ("seeing_the_graph-trusted", "seeing_the_graph-untrusted")
TEXT = {  # notebook → cell id → words its drawing shows
    "seeing_the_graph": {
        # y = 7, dy/dw = 14, and the intermediate values w·x = [0.5, 1, 1.5], w·x·x = [0.5, 2, 4.5], kept without
        # trace()
        "first-taste": ["x", "w", "Mul", "Sum", "7", "14", "1.5", "4.5"],
        "first-taste-backward": ["SumBackward", "MulBackward", "AccumulateGrad", "x", "w", "14"],
        "chapter-view-1-3-1": ["layers.0.weight", "layers.2.weight", "sigmoid"],
        "forward-784-300-10": ["layers.0.weight", "layers.2.weight", "(300, 784)", "Sigmoid", "MatMul"],
        "network-784-300-10": ["input layer", "p = 784", "300 neurons", "output layer", "K = 10"],
        "network-784-30-10": ["p = 784", "30 neurons", "K = 10"],
        "network-1-3-1": ["p = 1", "3 neurons", "K = 1"],
    },
    "neural_networks": {  # run offline: the 8×8 digits; LeNet-5 on 4 of them, one box per layer
        "lenet-graph": ["Sequential/conv1", "1 op: Conv2d", "conv1.weight (6, 1, 5, 5) float64",
                        "out: (4, 6, 8, 8) float64", "Sequential/pool2", "out: (4, 16, 2, 2) float64",
                        "Sequential/fc3"],
    },
}

# One pass over the rendered page: per code cell, its output areas (size, overflow, images, text) and, for an
# SVG image, the text of its <text> elements (read back from the image's own data: URL).
MEASURE = r"""async () => {
  const svgText = async (image) => {
    if (image.localName === 'svg') return [...image.querySelectorAll('text')].map(t => t.textContent).join('\n');
    if (!image.currentSrc.startsWith('data:image/svg+xml')) return null;
    const svg = new DOMParser().parseFromString(await (await fetch(image.currentSrc)).text(), 'image/svg+xml');
    return [...svg.querySelectorAll('text')].map(t => t.textContent).join('\n');
  };
  const cells = [];
  for (const cell of document.querySelectorAll('.jp-CodeCell')) {
    const outputs = [];
    for (const area of cell.querySelectorAll('.jp-OutputArea-output')) {
      const images = [];
      for (const image of area.querySelectorAll('img, svg')) {
        if (image.localName === 'svg' && image.parentElement.closest('svg')) continue;
        const box = image.getBoundingClientRect();
        images.push({kind: image.localName, width: box.width, height: box.height,
                     loaded: image.localName === 'svg' ? box.width > 0 && box.height > 0
                                                       : image.complete && image.naturalWidth > 0,
                     text: await svgText(image)});
      }
      outputs.push({mime: area.dataset.mimeType || '', scrollWidth: area.scrollWidth,
                    clientWidth: area.clientWidth, text: area.innerText, images});
    }
    const code = cell.querySelector('.jp-InputArea-editor');
    const source = code && code.querySelector('pre');
    cells.push({id: cell.id.replace(/^cell-id=/, ''), code: code ? code.innerText.trim().split('\n').pop() : '',
                codeScrollWidth: source ? source.scrollWidth : 0, codeClientWidth: source ? source.clientWidth : 0,
                picture: cell.classList.contains('celltag_picture'), outputs});
  }
  return {cells, pageWidth: document.documentElement.scrollWidth, viewport: window.innerWidth};
}"""


def have_browser() -> bool:
    return CHROMIUM.exists() and all(importlib.util.find_spec(m) for m in ("playwright", "nbconvert"))


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """name → the notebook executed offline (on the embedded digits), each once for both views."""
    done = {}

    def run(name: str):
        if name not in done:
            tmp = tmp_path_factory.mktemp(name)
            done[name] = execute(EXAMPLES / f"{name}.ipynb", tmp, offline(tmp))
        return done[name]

    return run


@pytest.fixture(scope="module")
def browser():
    require(have_jupyter(), "nbclient, nbformat and ipykernel run the notebooks (pip install '.[test]')")
    require(have_browser(), f"the browser test needs {CHROMIUM} (apt-get install chromium), Playwright and nbconvert "
                            "(pip install '.[test]'); scripts/setup.sh installs them")
    from playwright.sync_api import sync_playwright

    try:
        playwright = sync_playwright().start()
    except Exception as error:  # the driver, a node binary, exits at once when a library it links is missing
        require(False, f"Playwright's driver, which did not start ({error}): on Debian it needs libatomic1 "
                       "(apt-get install libatomic1), which scripts/setup.sh installs")
    try:
        # --no-sandbox: Chromium's sandbox refuses to run as root, which CI's Debian is
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()
    finally:
        playwright.stop()


def render(nb, untrusted: bool, path: Path) -> Path:
    """nbconvert's HTML of the executed notebook. untrusted: through nbconvert's SanitizeHTML first, which keeps
    PNG, JPEG, LaTeX, JSON and text outputs, cleans HTML and Markdown and drops the rest, SVG included: what Jupyter
    shows of a notebook it does not trust (its SVG renderer is not "safe")."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors.sanitize import SanitizeHTML

    exporter = HTMLExporter(template_name="lab", preprocessors=[SanitizeHTML] if untrusted else [])
    body, _ = exporter.from_notebook_node(nb)  # on a copy: the executed notebook serves both views
    path.write_text(body, encoding="utf-8")
    return path


def problems_of(page: dict, svg: bool, words: dict[str, list[str]]) -> list[str]:
    """Everything on the measured page that a student would see wrong, one line each; `svg`: the view shows
    drawings as SVG, whose text is then read and checked for the `words` listed per cell id."""
    found = []
    if page["pageWidth"] > page["viewport"]:
        found.append(f"the page scrolls sideways: {page['pageWidth']} px wide in a {page['viewport']}-px window")
    for cell in page["cells"]:
        where = f"cell {cell['id']} ({cell['code'][:60]})"
        if cell["codeScrollWidth"] > cell["codeClientWidth"]:
            found.append(f"{where}: a line of code {cell['codeScrollWidth']} px wide is cut at the "
                         f"{cell['codeClientWidth']}-px column")
        for out in cell["outputs"]:
            if out["scrollWidth"] > out["clientWidth"]:
                found.append(f"{where}: output {out['scrollWidth']} px wide overflows its {out['clientWidth']}-px "
                             f"column (scrolls sideways)")
            if out["mime"] == "application/vnd.jupyter.stderr":
                found.append(f"{where}: writes to stderr: {out['text'].strip()[:300]!r}")
            for image in out["images"]:
                if not image["loaded"]:
                    found.append(f"{where}: an {image['kind']} that did not load "
                                 f"({image['width']:.0f}×{image['height']:.0f} px)")
        images = [i for out in cell["outputs"] for i in out["images"]]
        if cell["picture"] and not images:
            shown = " | ".join(out["text"].strip()[:120] for out in cell["outputs"]) or "nothing"
            found.append(f"{where}: no picture, shows {shown!r}")
        if svg and cell["id"] in words and images:
            text = "\n".join(i["text"] for i in images if i["text"] is not None)
            missing = [w for w in words[cell["id"]] if not re.search(rf"(?<![\w.]){re.escape(w)}(?![\w.])", text)]
            if not text:
                found.append(f"{where}: the drawing is not an SVG, its text cannot be read")
            elif missing:
                found.append(f"{where}: the drawing lacks {missing}")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("page_name", [f"{n}-{v}" for n in NOTEBOOKS for v in VIEWS])
def test_pictures_read_well_in_a_browser(page_name, executed, browser, tmp_path, request):
    name, view = page_name.rsplit("-", 1)
    html = render(executed(name), VIEWS[view], tmp_path / f"{page_name}.html")
    page = browser.new_page(viewport=VIEWPORT)
    # offline, and fast: only the page itself and its data: URLs (the template's MathJax CDN is refused)
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:"))
               else route.abort())
    page.goto(html.as_uri(), wait_until="load")
    measured = page.evaluate(MEASURE)
    shot = tmp_path / f"{page_name}.png"
    page.screenshot(path=shot, full_page=True)
    page.close()
    if request.config.getoption("--update-screenshots") and page_name in SCREENSHOTS:
        (ROOT / "docs" / "screenshots").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, ROOT / "docs" / "screenshots" / shot.name)
    cells = measured["cells"]
    assert sum(c["picture"] for c in cells) >= 9, "the notebook's picture cells are tagged 'picture'"
    assert {c["id"] for c in cells} >= set(TEXT[name]), "every cell TEXT names is in the notebook"
    problems = problems_of(measured, svg=view == "trusted", words=TEXT[name])
    assert not problems, f"{page_name} (screenshot {shot}):\n" + "\n".join(problems)
