"""The smoke book as a reader gets it (issue 10: the book reads as a report): every page of the
smoke reproduction's HTML build names no machine folder and shows no progress bar or framework
log line, every chapter records its claims and shows their table, the results-at-a-glance and
limitations pages are in the table of contents right after the introduction, and every image a
page shows exists."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml

from replication.book import claims, glance

MACHINE_FOLDERS = ("/tmp/", "/work/", "/home/")
LOG_LINES = {
    "a progress bar": re.compile(r"\d+/\d+ \[\d+:\d\d|━━|\d+%\|"),
    "a log line": re.compile(r"WARNING|retracing|[IWE]0000 "),
}


class Page(HTMLParser):
    """What the checks read from one HTML page: its text outside code cells' inputs (the shown
    code may name anything), stderr outputs, image sources, links, and each table's header."""

    def __init__(self, path: Path):
        super().__init__(convert_charrefs=True)
        self.path = path
        self.text: list[str] = []
        self.stderr: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self.headers: list[list[str]] = []
        self._stack: list[str] = []  # the open divs' roles: "input", "stderr" or ""
        self._header: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "div":
            self._stack.append("input" if "cell_input" in classes else
                               "stderr" if "stderr" in classes else "")
        elif tag == "img":
            self.images.append(attrs.get("src") or "")
        elif tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "thead":
            self._header = []
        elif tag == "th" and self._header is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "div" and self._stack:
            self._stack.pop()
        elif tag == "th" and self._cell is not None and self._header is not None:
            self._header.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "thead" and self._header is not None:
            self.headers.append(self._header)
            self._header = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if "input" in self._stack:
            return
        self.text.append(data)
        if "stderr" in self._stack:
            self.stderr.append(data)


@pytest.fixture(scope="module")
def book(smoke_run) -> dict[str, Page]:
    """Every page of the build (not Sphinx's index and search pages), by path under the build."""
    html = smoke_run.home / "_build" / "html"
    return {path.relative_to(html).as_posix(): Page(path)
            for path in sorted(html.rglob("*.html"))
            if not path.relative_to(html).parts[0].startswith("_")
            and path.name not in ("genindex.html", "search.html")}


def toc_chapters(smoke_run) -> list[str]:
    toc = yaml.safe_load((smoke_run.home / "book" / "_toc.yml").read_text(encoding="utf-8"))
    return [entry["file"] for part in toc["parts"] for entry in part["chapters"]]


@pytest.mark.slow
def test_no_page_names_a_machine_folder(smoke_run, book):
    assert {"book/intro.html", "book/limitations.html",
            f"book/executed/{glance.PAGE}.html"} <= set(book)
    for name, page in book.items():
        source = page.path.read_text(encoding="utf-8")  # code cells too: a path is a path
        for folder in (str(smoke_run.home), *MACHINE_FOLDERS):
            assert folder not in source, (name, folder, source[max(0, source.find(folder) - 200):
                                                                source.find(folder) + 200])


@pytest.mark.slow
def test_no_page_shows_a_progress_bar_or_a_framework_log_line(book):
    for name, page in book.items():
        assert not "".join(page.stderr).strip(), (name, "".join(page.stderr)[:1500])
        text = "".join(page.text)
        for what, pattern in LOG_LINES.items():
            found = pattern.search(text)
            assert not found, (name, what, text[max(0, found.start() - 300):found.end() + 300])


@pytest.mark.slow
def test_every_chapter_records_its_claims_and_shows_their_table(smoke_run, book):
    chapters = [Path(f).name for f in toc_chapters(smoke_run) if f.startswith("book/executed/0")]
    assert chapters == [s.stem for s in sorted((Path(__file__).parents[1] / "notebooks")
                                               .glob("[0-9][0-9]_*.py"))]
    for chapter in chapters:
        numbers = json.loads((smoke_run.results_dir / chapter / "numbers.json").read_text())
        records = claims.check(numbers["claims"])  # one shape, the rules hold
        assert records, chapter
        page = book[f"book/executed/{chapter}.html"]
        assert list(claims.HEADER) in page.headers, (chapter, page.headers)


@pytest.mark.slow
def test_results_at_a_glance_and_limitations_follow_the_introduction(smoke_run, book):
    toc = yaml.safe_load((smoke_run.home / "book" / "_toc.yml").read_text(encoding="utf-8"))
    assert toc["root"] == "book/intro"
    assert toc_chapters(smoke_run)[:2] == [f"book/executed/{glance.PAGE}", "book/limitations"]
    intro = book["book/intro.html"]
    for target in (f"executed/{glance.PAGE}.html", "limitations.html"):
        assert any(urlparse(link).path == target for link in intro.links), (target, intro.links)
    # The results page: one row per claim of every chapter, each linking to its chapter.
    page = book[f"book/executed/{glance.PAGE}.html"]
    records = claims.collect(smoke_run.results_dir)
    assert records and ["chapter", *claims.HEADER] in page.headers
    text = " ".join("".join(page.text).split())
    assert f"{len(records)} claims: " in text and "smoke" in text
    assert "test the code, not the paper" in text and "from commit" in text
    linked = {urlparse(link).path for link in page.links}
    assert {f"{r['chapter']}.html" for r in records} <= linked


@pytest.mark.slow
def test_every_image_a_page_shows_exists(book):
    shown = 0
    for name, page in book.items():
        for src in page.images:
            if urlparse(src).scheme in ("data", "http", "https"):
                continue
            target = (page.path.parent / unquote(urlparse(src).path)).resolve()
            assert target.is_file(), (name, src)
            shown += 1
    assert shown >= 8  # the chapters' figures
