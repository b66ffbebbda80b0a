"""The built book read as a newcomer reads it: Chromium, 1280 px wide, chapters 1-7.

Each test checks one thing a reader meets on every chapter page, and its failure lists what
to fix, page by page (a snippet of the offending text, code or image):

- the prose speaks to the reader: no seven-digit problem ids, no "source text(s)";
- plumbing is hidden: no visible code cell calls ``glue(``, no cell dumps
  ``inspect.getsource``;
- nothing scrolls sideways: no code or output block wider than its column;
- figures: every image of a cell output is a numbered, captioned ``<figure>`` with alt text
  that is a sentence, sharp on a 2x screen (SVG, a raster of at least twice its displayed
  width, or pixel art drawn ``image-rendering: pixelated``);
- the static page is whole: no console errors, no failed requests, no other hosts;
- chapter 4 shows one whole training step, and every chapter ends by linking its exercises.

The intro and the claims ledger are held to the same words, and every other page (intro,
ledger, references, exercises) to the same clean load.

`tools/test.sh` builds the book first; the tests read `_build/html`, or the folder named by
``DCGAN_BOOK_HTML``. Each page is loaded once and measured; the tests read the measurements.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = Path(os.environ.get("DCGAN_BOOK_HTML", ROOT / "_build" / "html"))
CHROMIUM = "/usr/bin/chromium"
# a chapter's pages: book/06_hands_on.html and its section pages book/06b_*.html, ...
CHAPTERS = sorted(p.relative_to(HTML).as_posix() for p in HTML.glob("book/0[1-7]*_*.html")
                  if re.match(r"0[1-7][a-z]?_", p.name))
TRAINING_STEP_PAGE = "book/04_training_dynamics.html"
FRONT_AND_BACK = [p for p in ("book/intro.html", "book/claims.html")
                  if (HTML / p).is_file()]
OTHER_PAGES = sorted({p.relative_to(HTML).as_posix() for p in HTML.glob("book/*.html")}
                     - set(CHAPTERS)) + sorted(
    p.relative_to(HTML).as_posix() for p in HTML.glob("exercises/*.html"))

PROBLEM_ID = re.compile(r"(?<![\w.,#/-])\d{7}(?![\w.,/-])")
SOURCE_TEXT = re.compile(r"\bsource[ -](?:texts?|documents?)\b", re.IGNORECASE)
GLUE_CALL = re.compile(r"\bglue\s*\(")
GETSOURCE = re.compile(r"\bgetsource\s*\(")
# one DCGAN step, in order: D's gradients cleared, the fake detached for D's loss, D's
# backward and step, then G's backward and step (any optimizer name ending in D / G)
OPTIMIZER = r"opt(?:imi[sz]er)?_?{net}\b"
STEP = r"(?:{opt}\s*\.\s*step\s*\(|\b(?:step|update)\s*\(\s*{opt}\s*\))"
TRAINING_STEP = [
    ("netD.zero_grad()", r"\bnetD\s*\.\s*zero_grad\s*\("),
    (".detach()", r"\.\s*detach\s*\(\s*\)"),
    ("D's backward()", r"\.\s*backward\s*\("),
    ("optimizerD's step", STEP.format(opt=OPTIMIZER.format(net="D"))),
    ("G's backward()", r"\.\s*backward\s*\("),
    ("optimizerG's step", STEP.format(opt=OPTIMIZER.format(net="G"))),
]
FIGURE_NUMBER = re.compile(r"^\s*Fig\.\s*\d+(?:\.\d+)*")
FILE_NAME = re.compile(r"(?:^|/)[\w.-]+\.(?:png|jpe?g|svg|gif|webp)$|_images/|^\.\./", re.I)


def snippet(text: str, start: int, end: int, context: int = 40) -> str:
    """The match in its surrounding text, on one line."""
    left = max(0, start - context)
    piece = text[left:end + context]
    return ("…" if left else "") + " ".join(piece.split()) + ("…" if end + context < len(text)
                                                            else "")


def first_line(text: str, width: int = 70) -> str:
    line = next((x.strip() for x in text.splitlines() if x.strip()), "")
    return line if len(line) <= width else line[:width - 1] + "…"


# Everything measured in the page, in one pass after layout, MathJax and the images.
MEASURE_JS = r"""
() => {
  const article = document.querySelector('article') || document.body;
  const hidden = el => !!el.closest('details:not([open])');
  const codeOf = el => (el.querySelector('pre') || el).innerText;
  // code the reader sees: cell inputs not collapsed, and listings shown by show()
  const inputs = Array.from(article.querySelectorAll('.cell .cell_input'));
  const visibleInputs = inputs.filter(i => !hidden(i)).map(codeOf);
  const listings = Array.from(article.querySelectorAll(
      '.cell_output > div[class*="highlight-"]:not(.output)'))
    .filter(e => !hidden(e)).map(codeOf);
  // inputs that exist in the page at all (visible or behind a toggle): their outputs show
  const allInputs = inputs.map(codeOf);
  // blocks the reader sees that are wider than their column (one entry per block)
  const blocks = new Map();
  for (const el of article.querySelectorAll('pre, .highlight, .output')) {
    if (!hidden(el) && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
      const block = el.closest('div[class*="highlight-"], .output') || el;
      const over = el.scrollWidth - el.clientWidth;
      blocks.set(block, Math.max(over, blocks.get(block) || 0));
    }
  }
  const scrolling = Array.from(blocks).map(([b, over]) => ({
    over,
    kind: b.closest('.cell_input') ? 'code' : (b.closest('.cell_output') ? 'output' : 'block'),
    text: (b.innerText || '').split('\n')  // the widest line
      .reduce((a, l) => (l.length > a.length ? l : a), ''),
  }));
  const images = Array.from(article.querySelectorAll('img'))
    .filter(i => i.closest('.cell_output') || i.closest('figure'))
    .map(i => {
      const figure = i.closest('figure');
      const caption = figure && figure.querySelector('figcaption');
      const box = i.getBoundingClientRect();
      const style = getComputedStyle(i);
      return {
        src: i.getAttribute('src') || '', alt: i.getAttribute('alt') || '',
        inFigure: !!figure, caption: caption ? caption.innerText : null,
        naturalWidth: i.naturalWidth, width: box.width,
        rendering: style.imageRendering, widget: !!i.closest('.jupyter-widgets'),
      };
    });
  // the page's last section (an h2 under the h1, a trailing bibliography aside), where
  // its exercises link belongs
  const top = article.querySelector('section') || article;
  const sections = Array.from(top.querySelectorAll(':scope > section')).filter(s => {
    const h = s.querySelector('h2');
    return !(h && /^\s*(references|bibliography)\b/i.test(h.innerText));
  });
  const last = sections.length ? sections[sections.length - 1] : top;
  return {
    text: article.innerText, visibleInputs, listings, allInputs, scrolling, images,
    lastSectionLinks: Array.from(last.querySelectorAll('a[href]')).map(a => a.href),
    lastHeading: (last.querySelector('h1, h2, h3') || {innerText: ''}).innerText,
  };
}
"""


def measure(browser, base: str, page: str) -> dict:
    """Load ``page`` from the server at ``base`` in a fresh 1280-px context and measure it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    console, failed, off_host = [], [], []

    def on_console(message):
        # a resource that did not load is counted (with its address) by the requests check
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            console.append(message.text)

    def on_response(response):
        if response.status >= 400:
            failed.append((response.url, f"{response.status} {response.url}"))

    def on_failed(request):
        if request.url.startswith(base):
            failed.append((request.url, f"{request.failure or 'failed'} {request.url}"))

    def other_host(route):
        off_host.append(route.request.url)
        route.abort()

    context.route(lambda url: not url.startswith((base, "data:", "blob:")), other_host)
    tab = context.new_page()
    tab.on("console", on_console)
    tab.on("pageerror", lambda error: console.append(f"uncaught: {error}"))
    tab.on("response", on_response)
    tab.on("requestfailed", on_failed)
    tab.goto(f"{base}/{page}", wait_until="load", timeout=60_000)
    tab.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
    tab.evaluate("() => Promise.all(Array.from(document.images).filter(i => !i.complete)"
                 ".map(i => new Promise(r => { i.onload = i.onerror = r; })))")
    tab.evaluate("() => document.fonts ? document.fonts.ready.then(() => null) : null")
    with contextlib.suppress(Exception):  # a page that keeps polling never goes idle
        tab.wait_for_load_state("networkidle", timeout=10_000)
    tab.wait_for_timeout(300)
    result = tab.evaluate(MEASURE_JS)
    context.close()
    result.update(page=page, console=console, failed=failed, off_host=off_host)
    return result


# The checks: each returns the offending items of one measured page, as readable strings.

def problem_ids(m: dict) -> list[str]:
    return [snippet(m["text"], x.start(), x.end()) for x in PROBLEM_ID.finditer(m["text"])]


def source_texts(m: dict) -> list[str]:
    return [snippet(m["text"], x.start(), x.end()) for x in SOURCE_TEXT.finditer(m["text"])]


def visible_glue_cells(m: dict) -> list[str]:
    out = []
    for code in m["visibleInputs"]:
        for line in code.splitlines():
            if GLUE_CALL.search(line):
                out.append(f"cell starting {first_line(code)!r}: {line.strip()[:70]!r}")
                break
    return out


def getsource_dumps(m: dict) -> list[str]:
    return [f"cell starting {first_line(code)!r}" for code in m["allInputs"]
            if GETSOURCE.search(code)]


def sideways_blocks(m: dict) -> list[str]:
    return [f"{b['kind']} {b['over']} px too wide: {b['text'].strip()[:70]!r}"
            for b in m["scrolling"]]


def uncaptioned_figures(m: dict) -> list[str]:
    out = []
    for image in m["images"]:
        name = image["src"].rsplit("/", 1)[-1][:20]
        if not image["inFigure"]:
            out.append(f"{name}: not inside a <figure>")
        elif not image["caption"] or not FIGURE_NUMBER.match(image["caption"]):
            out.append(f"{name}: no numbered caption ('Fig. N'), got "
                       f"{(image['caption'] or '')[:40]!r}")
    return out


def figures_numbered_across_the_book(m: dict) -> list[str]:
    """Captions on chapter N's pages must read Fig. N.k, k rising in page order."""
    chapter = int(re.match(r"book/0*(\d+)[a-z]?_", m["page"]).group(1))
    captions = dict.fromkeys(i["caption"] for i in m["images"] if i["caption"])
    out, last = [], 0
    for caption in captions:
        number = re.match(r"\s*Fig\.\s*(\d+(?:\.\d+)*)", caption)
        if not number:
            continue  # reported by the numbered-caption check
        parts = [int(p) for p in number.group(1).split(".")]
        if len(parts) != 2 or parts[0] != chapter or parts[1] <= last:
            out.append(f"Fig. {number.group(1)} after Fig. {chapter}.{last}")
        else:
            last = parts[1]
    return out


def meaningless_alt_texts(m: dict) -> list[str]:
    out = []
    for image in m["images"]:
        alt = image["alt"].strip()
        if not alt or FILE_NAME.search(alt) or len(alt.split()) < 3:
            out.append(f"{image['src'].rsplit('/', 1)[-1][:20]}: alt {alt[:60]!r}")
    return out


def blurry_figures(m: dict) -> list[str]:
    out = []
    for image in m["images"]:
        src = image["src"].split("?")[0].lower()
        if src.endswith(".svg") or src.startswith("data:image/svg"):
            continue
        if image["rendering"] in ("pixelated", "crisp-edges"):
            continue
        if image["width"] > 0 and image["naturalWidth"] < 2 * image["width"] - 0.5:
            out.append(f"{src.rsplit('/', 1)[-1][:20]}: {image['naturalWidth']} px drawn at "
                       f"{image['width']:.0f} px ({image['naturalWidth'] / image['width']:.2f}x)")
    return out


def console_errors(m: dict) -> list[str]:
    return [e[:160] for e in m["console"]]


def failed_requests(m: dict) -> list[str]:
    first = {}  # one entry per address: a 404 is also reported as an aborted load
    for url, what in m["failed"]:
        first.setdefault(url, what)
    return list(first.values())


def other_hosts(m: dict) -> list[str]:
    return list(dict.fromkeys(m["off_host"]))


def training_step_cells(m: dict) -> list[str]:
    """The visible code blocks that hold one whole step, its parts in order."""
    return [code for code in m["visibleInputs"] + m["listings"] if holds_training_step(code)]


def holds_training_step(code: str) -> bool:
    code = "\n".join(line.split("#", 1)[0] for line in code.splitlines())  # no comments
    position = 0
    for _, pattern in TRAINING_STEP:
        found = re.compile(pattern).search(code, position)
        if found is None:
            return False
        position = found.end()
    return True


def missing_training_step_parts(code: str) -> list[str]:
    """For a message: the first part of the step the best block lacks, and what follows."""
    code = "\n".join(line.split("#", 1)[0] for line in code.splitlines())
    position = 0
    for i, (name, pattern) in enumerate(TRAINING_STEP):
        found = re.compile(pattern).search(code, position)
        if found is None:
            return [name for name, _ in TRAINING_STEP[i:]]
        position = found.end()
    return []


def chapter_stem(page: str) -> str:
    """The chapter page's name for any of its pages: 06_hands_on for book/06b_guidelines.html."""
    number = re.match(r"book/(\d+)[a-z]?_", page).group(1)
    return next(Path(p).stem for p in CHAPTERS if re.match(rf"book/{number}_", p))


def exercises_link(m: dict) -> list[str]:
    """A chapter's pages each end by linking the chapter's exercises (one page per chapter)."""
    target = f"/exercises/{chapter_stem(m['page'])}.html"
    if any(link.split("#")[0].endswith(target) for link in m["lastSectionLinks"]):
        return []
    return [f"the last section ({m['lastHeading'][:40]!r}) has no link to ..{target}"]


# The tests.

@pytest.fixture(scope="module")
def measured(server, browser):
    """``measured(page)``: the page's measurements, taken once per page."""
    return functools.cache(lambda page: measure(browser, server, page))


def report(page: str, what: str, items: list[str]) -> str:
    listed = "\n  ".join(items[:40]) + (f"\n  … and {len(items) - 40} more"
                                        if len(items) > 40 else "")
    return f"{page}: {what} ({len(items)}):\n  {listed}"


def test_the_book_has_its_seven_chapters():
    chapters = sorted({page.split("/")[1][:2] for page in CHAPTERS})
    assert chapters == [f"0{k}" for k in range(1, 8)], f"chapter pages in {HTML}/book: {CHAPTERS}"


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_prose_has_no_problem_ids(page, measured):
    found = problem_ids(measured(page))
    assert not found, report(page, "seven-digit problem ids", found)


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_never_mentions_source_texts(page, measured):
    found = source_texts(measured(page))
    assert not found, report(page, "mentions of the source texts", found)


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_hides_every_cell_that_calls_glue(page, measured):
    found = visible_glue_cells(measured(page))
    assert not found, report(page, "visible cells calling glue( (tag them hide-input)", found)


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_shows_library_code_with_show_not_getsource(page, measured):
    found = getsource_dumps(measured(page))
    assert not found, report(page, "getsource dumps (use show(fn) in a remove-input cell)",
                               found)


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_code_and_outputs_fit_the_column(page, measured):
    found = sideways_blocks(measured(page))
    assert not found, report(page, "code or output blocks that scroll sideways", found)


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_figures_are_numbered_captioned_figures(page, measured):
    found = uncaptioned_figures(measured(page))
    assert not found, report(page, "images without a numbered caption", found)


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_numbers_its_figures_within_itself(page, measured):
    found = figures_numbered_across_the_book(measured(page))
    assert not found, report(page, "figures not numbered N.1, N.2, ... in chapter N", found)


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_figures_have_alt_text_that_says_what_they_show(page, measured):
    found = meaningless_alt_texts(measured(page))
    assert not found, report(page, "images whose alt text is a file name or empty", found)


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_figures_are_sharp_on_a_2x_screen(page, measured):
    found = blurry_figures(measured(page))
    assert not found, report(page, "raster figures under 2x their displayed width", found)


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_has_no_console_errors(page, measured):
    found = console_errors(measured(page))
    assert not found, report(page, "console errors", found)


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_requests_all_succeed(page, measured):
    found = failed_requests(measured(page))
    assert not found, report(page, "failed requests", found)


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_requests_nothing_from_other_hosts(page, measured):
    found = other_hosts(measured(page))
    assert not found, report(page, "requests to other hosts", found)


@pytest.mark.parametrize("page", FRONT_AND_BACK)
def test_intro_and_claims_ledger_speak_to_the_reader(page, measured):
    m = measured(page)
    found = [f"problem id {x}" for x in problem_ids(m)] + [
        f"source text {x}" for x in source_texts(m)]
    assert not found, report(page, "problem ids or mentions of the source texts", found)


@pytest.mark.parametrize("page", OTHER_PAGES)
def test_every_other_page_loads_cleanly(page, measured):
    m = measured(page)
    found = ([f"console: {x}" for x in console_errors(m)]
             + [f"request: {x}" for x in failed_requests(m)]
             + [f"other host: {x}" for x in other_hosts(m)])
    assert not found, report(page, "console errors, failed or off-host requests", found)


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_ends_by_linking_its_exercises(page, measured):
    found = exercises_link(measured(page))
    assert not found, report(page, "missing exercises link", found)


def test_chapter_four_shows_one_whole_training_step(measured):
    m = measured(TRAINING_STEP_PAGE)
    if training_step_cells(m):
        return
    blocks = m["visibleInputs"] + m["listings"]
    best = min(blocks, key=lambda code: len(missing_training_step_parts(code)), default="")
    missing = missing_training_step_parts(best)
    closest = (f"; the closest, starting {first_line(best)!r}, lacks {missing}"
               if best and len(missing) < len(TRAINING_STEP) else "")
    pytest.fail(f"{TRAINING_STEP_PAGE}: no visible code cell holds a whole training step "
                f"(netD.zero_grad(), .detach(), backward, optimizerD step, backward, "
                f"optimizerG step, in order){closest}")
