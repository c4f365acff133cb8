"""Every Markdown link and image in README.md, CHANGELOG.md and docs/ resolves.

A relative link must name a file (or folder) of this repository — never one outside it, such as
``../shared`` — and its ``#anchor`` a heading of the target, slugged the way GitHub does
(lowercase, spaces → ``-``, punctuation dropped, CJK kept, ``-1``, ``-2`` … for repeats).
External ``http(s)`` links are not fetched (CI is offline) but must be well-formed.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\n[ \t]*\n).)+?\1", re.S)
_TEXT = r"(?:[^\[\]]|\[(?:[^\[\]]|\[[^\[\]]*\])*\])*"  # link text: brackets nest (an image inside a link)
_INLINE = re.compile(r"(!?)\[(" + _TEXT + r")\]\(\s*(<[^>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
_REFDEF = re.compile(r"^ {0,3}\[([^\]]+)\]:[ \t]*(<[^>\n]*>|\S+)", re.M)
_HTML_URL = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*[\"']([^\"']*)[\"']", re.I)
_HTML_ANCHOR = re.compile(r"<a\b[^>]*?\b(?:name|id)\s*=\s*[\"']([^\"']+)[\"']", re.I)
_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_LINE_ANCHOR = re.compile(r"L\d+(?:-L\d+)?")


def doc_files(root: Path = ROOT) -> list[Path]:
    """README.md, CHANGELOG.md and every Markdown file under docs/."""
    return [p for p in (root / "README.md", root / "CHANGELOG.md") if p.exists()] + sorted((root / "docs").rglob("*.md"))


def without_fences(text: str) -> str:
    """``text`` with fenced code blocks blanked (the same lines, so line numbers hold)."""
    out, fence = [], None
    for line in text.split("\n"):
        m = _FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)
            out.append("")
        elif fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line.strip(" `~"):
                fence = None
            out.append("")
        else:
            out.append(line)
    return "\n".join(out)


def without_code(text: str) -> str:
    """``text`` with fenced blocks and code spans blanked (same length and lines, so offsets hold)."""
    text = without_fences(text)
    return _CODE_SPAN.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text.

    >>> slug("graphkit scan"), slug("命令行 / Command line"), slug("Findings — output contract (v1.1)")
    ('graphkit-scan', '命令行--command-line', 'findings--output-contract-v11')
    """
    text = re.sub(r"!?\[(" + _TEXT + r")\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")  # HTML tags, code marks
    text = re.sub(r"(\*{1,3})(\S(?:.*?\S)?)\1", r"\2", text)  # emphasis; _ only at word edges (snake_case stays)
    text = re.sub(r"(?<!\w)(_{1,3})(\S(?:.*?\S)?)\1(?!\w)", r"\2", text)
    keep = [c for c in text.strip().lower()
            if c in " -_" or unicodedata.category(c)[0] in "LMN"]
    return "".join(keep).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor a Markdown file offers: its headings (repeats numbered) and explicit ``<a name|id>``."""
    text = without_fences(path.read_text("utf-8"))  # a heading's code spans are part of its anchor
    lines = text.split("\n")
    seen: dict[str, int] = {}
    out: set[str] = set()
    for i, line in enumerate(lines):
        m = _ATX.match(line)
        title = m.group(2) if m else None
        if title is None and i + 1 < len(lines) and line.strip() and _SETEXT.match(lines[i + 1]) \
                and not line.lstrip().startswith(("|", "-", "*", ">")) and (i == 0 or not lines[i - 1].strip()):
            title = line.strip()
        if title is None:
            continue
        base = slug(title)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    out.update(_HTML_ANCHOR.findall(without_code(text)))
    return out


def links(path: Path) -> list[tuple[int, str]]:
    """(line, target) of every link, image, reference definition and HTML href/src outside code."""
    text = without_code(path.read_text("utf-8"))
    found = [(m.start(3), m.group(3)) for m in _INLINE.finditer(text)]
    found += [(m.start(2), m.group(2)) for m in _REFDEF.finditer(text)]
    found += [(m.start(1), m.group(1)) for m in _HTML_URL.finditer(text)]
    return [(text.count("\n", 0, at) + 1, url.strip("<>")) for at, url in sorted(found)]


def check_target(source: Path, url: str, root: Path = ROOT) -> str | None:
    """Why ``url`` (written in ``source``) is broken, or None when it resolves."""
    if not url:
        return "empty link"
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        host = parts.hostname or ""
        if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", host) or " " in url:
            return f"malformed external link {url!r}"
        return None
    if parts.scheme == "mailto":
        return None if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", parts.path) else f"malformed mail link {url!r}"
    if parts.scheme or parts.netloc:
        return f"unsupported link scheme {url!r}"
    target = (source.parent / unquote(parts.path)).resolve() if parts.path else source.resolve()
    if not target.is_relative_to(root.resolve()):
        return f"{url!r} points outside the repository"
    rel = target.relative_to(root.resolve())
    if rel.parts and rel.parts[0] == "shared":
        return f"{url!r} points into shared/, which the project must not need"
    if not target.exists():
        return f"{url!r}: no such file {rel.as_posix()}"
    if parts.fragment:
        frag = unquote(parts.fragment)
        if target.suffix.lower() == ".md":
            if frag not in anchors(target):
                return f"{url!r}: no heading #{frag} in {rel.as_posix()}"
        elif not _LINE_ANCHOR.fullmatch(frag):
            return f"{url!r}: #{frag} on a file that is not Markdown"
    return None


def broken_links(files: list[Path], root: Path = ROOT) -> list[str]:
    """``file:line: why`` for every broken link in ``files``."""
    out = []
    for f in files:
        for line, url in links(f):
            why = check_target(f, url, root)
            if why:
                out.append(f"{f.relative_to(root).as_posix()}:{line}: {why}")
    return out


def test_every_docs_link_resolves():
    files = doc_files()
    assert len(files) > 10 and ROOT / "README.md" in files
    bad = broken_links(files)
    assert not bad, "broken links:\n" + "\n".join(bad)


@pytest.mark.parametrize("heading, anchor", [
    ("graphkit scan", "graphkit-scan"),
    ("命令行 / Command line", "命令行--command-line"),
    ("Findings — graphkit's output contract (v1.1)", "findings--graphkits-output-contract-v11"),
    ("`shared_card` — 冒用/盗用医保卡", "shared_card--冒用盗用医保卡"),
    ("What **it** finds", "what-it-finds"),
    ("deceased_card_use", "deceased_card_use"),
    ("Findings of kind `rule_violation` and _more_", "findings-of-kind-rule_violation-and-more"),
    ("[docs](x.md) and *more*", "docs-and-more"),
    ("Ring benchmark: 20,000 patients", "ring-benchmark-20000-patients"),
])
def test_slug_is_githubs(heading, anchor):
    assert slug(heading) == anchor


def test_checker_catches_what_is_broken(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "spec.md").write_text("# Spec\n", "utf-8")
    (tmp_path / "docs" / "a.md").write_text(
        "# Title\n\n## Part one\n\n## Part one\n\nSub\n---\n\n<a name=\"kept\"></a>\n\n### Kind `x_y`\n\n"
        "```md\n# Fenced\n```\n", "utf-8")
    (tmp_path / "README.md").write_text(
        "# Read me\n\n"
        "[ok](docs/a.md#part-one) [ok](docs/a.md#part-one-1) [ok](docs/a.md#sub) [ok](docs/a.md#kept) [ok](docs/a.md#kind-x_y)\n"
        "[ok](#read-me) ![ok](docs/) [ok](https://example.org/x?y=1#z) [ok][r]\n\n"
        "`[in code](missing.md)`\n\n```text\n[in a fence](missing.md)\n```\n\n"
        "[missing](docs/b.md) [anchor](docs/a.md#fenced)\n"
        "[wrapped\nlink](#nowhere) [out](../x.md) [shared](shared/spec.md)\n"
        "[bad url](http:example) [scheme](ftp://example.org/f) ![img](docs/pic.png)\n\n"
        "[r]: docs/a.md#title\n[s]: docs/gone.md\n", "utf-8")
    bad = broken_links(doc_files(tmp_path), tmp_path)
    assert [b.split(": ", 1)[0] for b in bad] == ["README.md:12", "README.md:12", "README.md:14", "README.md:14",
                                                   "README.md:14", "README.md:15", "README.md:15", "README.md:15",
                                                   "README.md:18"], bad
    assert "no such file docs/b.md" in bad[0] and "no heading #fenced" in bad[1] and "#nowhere" in bad[2]
    assert "outside the repository" in bad[3] and "shared/" in bad[4] and "malformed" in bad[5]
    assert "scheme" in bad[6] and "docs/pic.png" in bad[7] and "docs/gone.md" in bad[8]
