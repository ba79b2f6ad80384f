"""The Markdown renderer (static/chat/markdown.js: markdown-it, KaTeX, highlight.js and
DOMPurify, vendored by static/vendor/refresh.sh) in a real browser (Debian chromium) under the
site's Content-Security-Policy, with no server: what gpt-oss writes (tables, math, code) is
drawn, untrusted text stays inert, and while an answer streams only the block that changed is
drawn again."""

from __future__ import annotations

import pytest

from tests.browser import static_harness

SCRIPT = """
import { renderMarkdown } from "/static/chat/markdown.js";
const out = () => document.getElementById("out");
window.render = (text) => { renderMarkdown(out(), text); return out().innerHTML; };
// Draws `text` in a fresh container, as a reload does: the whole answer at once.
window.renderAtOnce = (text) => {
  const fresh = document.createElement("div");
  renderMarkdown(fresh, text);
  return fresh.innerHTML;
};
// A new, empty answer container in place of #out.
window.reset = () => {
  const fresh = document.createElement("div");
  fresh.id = "out";
  fresh.className = "markdown";
  out().replaceWith(fresh);
};
window.ready = true;
"""

# What the elements of a rendering are, and what they say.
FOUND = """() => {
  const out = document.getElementById("out");
  return {
    tags: [...new Set([...out.querySelectorAll("*")].map((n) => n.tagName.toLowerCase()))],
    hrefs: [...out.querySelectorAll("a")].map((a) => a.getAttribute("href")),
    styled: [...out.querySelectorAll("[style]")].filter((n) => !n.closest(".katex")).length,
    text: out.textContent,
  };
}"""


@pytest.fixture(scope="module")
def page():
    yield from static_harness('<main><div id="out" class="markdown"></div></main>', SCRIPT)


def test_raw_html_and_unsafe_links_stay_text_and_run_nothing(page):
    attacks = "\n\n".join([
        "<script>window.pwned = 1</script>",
        '<img src=x onerror="window.pwned = 2">',
        "[click](javascript:window.pwned=3)",
        '<a href="javascript:window.pwned=4">a</a>',
        "[data](data:text/html,<script>window.pwned=5</script>)",
        '<iframe srcdoc="<script>parent.pwned=6</script>"></iframe>',
        "**<svg onload=window.pwned=7>**",
        "![img](data:image/png;base64,iVBORw0KGgo=) [vb](vbscript:msgbox) <javascript:window.pwned=8>",
        r"$\href{javascript:window.pwned=9}{x}$ $\url{javascript:window.pwned=10}$",
        r"$\htmlClass{pwned}{x}$ $\htmlId{pwned}{x}$ $\htmlStyle{color:red}{x}$ $\htmlData{a=b}{x}$",
        r"$$\includegraphics{https://example.com/x.png}$$",
    ])
    page.evaluate("(t) => render(t)", attacks)
    page.wait_for_timeout(100)
    found = page.evaluate(FOUND)
    assert page.evaluate("window.pwned ?? null") is None
    assert not {"script", "img", "iframe", "svg", "object", "embed", "style"} & set(found["tags"])
    assert found["hrefs"] == []  # javascript:, data:, vbscript: targets are not linked
    assert page.evaluate("document.querySelectorAll('#out .pwned, #out #pwned, #out [data-a]').length") == 0
    assert found["styled"] == 0, "only KaTeX's own boxes carry a style"
    assert "<script>window.pwned = 1</script>" in found["text"]
    assert '<img src=x onerror="window.pwned = 2">' in found["text"]
    assert "[click](javascript:window.pwned=3)" in found["text"]


def test_a_javascript_link_keeps_its_whole_text_and_entities_are_decoded(page):
    """The hand-written renderer drew `[x](javascript:alert(11))` as "x)" and showed `&lt;` as
    written."""
    page.evaluate("(t) => render(t)", "[x](javascript:alert(11)) and &lt;b&gt; &amp; &#x3C;i&#x3E; &copy;")
    found = page.evaluate(FOUND)
    assert found["text"].strip() == "[x](javascript:alert(11)) and <b> & <i> ©"
    assert found["tags"] == ["p"]


def test_an_answer_with_a_table_math_code_a_list_and_a_link(page):
    text = ("# Title\n\nSome *em*, **strong**, ~~gone~~, `code` and [a link](https://example.com/x), "
            "also https://example.org.\n\n"
            "- one\n- two\n  - nested\n\n1. first\n2. second\n\n"
            "| n | n² |\n|:--|--:|\n| 2 | 4 |\n| 3 | 9 |\n\n"
            "Inline $e^{i\\pi} + 1 = 0$ and \\(a^2 + b^2 = c^2\\); it costs $5 and $10.\n\n"
            "$$\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}$$\n\n\\[\n\\int_0^1 x\\,dx = \\tfrac12\n\\]\n\n"
            "```python\ndef square(n):\n    return n * n  # '<b>'\n```\n\n> quoted\n\n---\n")
    page.evaluate("(t) => render(t)", text)
    found = page.evaluate("""async () => {
      const out = document.getElementById("out"), n = (s) => out.querySelectorAll(s).length;
      return { h1: n("h1"), em: n("em"), strong: n("strong"), del: n("s"), code: n("p code"),
               ul: n("ul"), nested: n("ul ul"), ol: n("ol li"), quote: n("blockquote"), hr: n("hr"),
               cells: n("td"), right: getComputedStyle(out.querySelectorAll("td")[1]).textAlign,
               inlineMath: n("p .katex"), displayMath: n(".katex-display"),
               annotations: [...out.querySelectorAll("annotation")].map((a) => a.textContent),
               mathHeight: out.querySelector(".katex-display .katex-html").getBoundingClientRect().height,
               keywords: [...out.querySelectorAll("pre code.language-python .hljs-keyword")].map((k) => k.textContent),
               pre: out.querySelector("pre code").textContent,
               links: [...out.querySelectorAll("a")].map((a) => [a.getAttribute("href"), a.target, a.rel]),
               katexFonts: (await document.fonts.load("16px KaTeX_Main", "x")).length };
    }""")
    assert found.pop("links") == [["https://example.com/x", "_blank", "noopener noreferrer nofollow"],
                                  ["https://example.org", "_blank", "noopener noreferrer nofollow"]]
    assert found.pop("annotations") == ["e^{i\\pi} + 1 = 0", "a^2 + b^2 = c^2",
                                        "\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}", "\n\\int_0^1 x\\,dx = \\tfrac12\n"]
    assert found.pop("mathHeight") > 30, "KaTeX's boxes are sized (its style, applied under the CSP)"
    assert found == {"h1": 1, "em": 1, "strong": 1, "del": 1, "code": 1, "ul": 2, "nested": 1, "ol": 2,
                     "quote": 1, "hr": 1, "cells": 4, "right": "right", "inlineMath": 2, "displayMath": 2,
                     "keywords": ["def", "return"], "pre": "def square(n):\n    return n * n  # '<b>'\n",
                     "katexFonts": 1}, "KaTeX's font came from static/vendor"


def test_streaming_redraws_only_the_changing_block_and_ends_as_a_full_render(page):
    answer = ("First paragraph with $x^2$.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
              "```python\nprint('hi')\n```\n\nLast *paragraph* grows.\n")
    page.evaluate("() => reset()")
    # draw the first block, keep a node of it, then stream the rest piece by piece
    first_block = answer.index("\n\n") + 2
    page.evaluate("(t) => render(t)", answer[:first_block])
    page.evaluate("() => { window.kept = document.querySelector('#out p .katex'); window.swapped = 0;"
                  "  new MutationObserver((changes) => { for (const c of changes) swapped += c.removedNodes.length; })"
                  "    .observe(document.getElementById('out'), { childList: true }); }")
    text = answer[:first_block]
    removed_at = []
    for piece in [answer[first_block:][i:i + 5] for i in range(0, len(answer) - first_block, 5)]:
        text += piece
        page.evaluate("(t) => render(t)", text)
        removed_at.append(page.evaluate("() => { const n = swapped; swapped = 0; return n; }"))
        assert page.evaluate("() => document.querySelector('#out p .katex') === kept"), \
            f"the finished first block was drawn again at {text!r}"
    assert page.evaluate("(t) => render(t) === renderAtOnce(t)", answer)
    assert page.evaluate("() => document.querySelector('#out p .katex') === kept")
    # each piece replaces the one block it changes (a few nodes), never the whole answer
    assert len(removed_at) > 10 and max(removed_at) <= 4, removed_at


def test_a_definition_that_arrives_later_redraws_the_link_that_uses_it(page):
    page.evaluate("() => reset()")
    page.evaluate("(t) => render(t)", "See [the docs][d].\n\nMore text.")
    assert page.evaluate("document.querySelectorAll('#out a').length") == 0
    text = "See [the docs][d].\n\nMore text.\n\n[d]: https://example.com/docs"
    assert page.evaluate("(t) => render(t) === renderAtOnce(t)", text)
    assert page.evaluate("document.querySelector('#out a').href") == "https://example.com/docs"
