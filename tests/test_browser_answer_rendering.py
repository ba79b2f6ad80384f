"""A representative gpt-oss answer (a GFM table, inline and display math, a fenced Python
block, a list, a link), run by the worker's own code (webapp.chat.tasks, on a scripted engine)
in the live site's database, drawn by the chat in a real browser (Debian chromium) while it
streams and again after a reload: the table, KaTeX's math and highlight.js's code are there,
the streamed and the reloaded answer are the same, and the page has no serious or critical
axe-core violation. Screenshots go to tests/artifacts/."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser import (ARTIFACTS, after_the_next_frame, answer_with_stored_turn,
                           assert_accessible, drawn_turns, log_in, scripted_turn)

QUESTION = "What is 12 * 34, and how do squares grow?"
ANSWER = r"""**12 × 34 = 408.** Here is how squares and cubes grow:

| n | n² | n³ |
|---|---:|---:|
| 2 | 4 | 8 |
| 3 | 9 | 27 |
| 12 | 144 | 1728 |

Each row follows $n^2 = n \cdot n$, and the first $n$ squares add up to

$$\sum_{k=1}^{n} k^2 = \frac{n(n+1)(2n+1)}{6}$$

and, written the other way,

\[
12 \times 34 = (10 + 2) \times 34 = 408
\]

```python
def squares(n):
    # the first n squares
    return [k * k for k in range(1, n + 1)]
```

- It is **exact** for integers: \(408 = 2^3 \cdot 3 \cdot 17\).
- See [the Python docs](https://docs.python.org/3/library/stdtypes.html#range) for `range`.
"""

RENDERED = """(body) => ({
  header: [...body.querySelectorAll("table thead th")].map((th) => th.textContent),
  rows: [...body.querySelectorAll("table tbody tr")].map((tr) => [...tr.cells].map((td) => td.textContent)),
  rightAligned: [...body.querySelectorAll("table td")].filter((td) => getComputedStyle(td).textAlign === "right").length,
  inlineMath: body.querySelectorAll(":not(.katex-display) > .katex").length,
  displayMath: body.querySelectorAll(".katex-display").length,
  tex: [...body.querySelectorAll("annotation")].map((a) => a.textContent.trim()),
  code: [...body.querySelectorAll("pre code.language-python [class^=hljs-]")].map((s) => [s.className, s.textContent]),
  items: [...body.querySelectorAll("ul > li")].length,
  link: [...body.querySelectorAll("a")].map((a) => [a.href, a.target, a.rel]),
})"""


def test_a_representative_answer_draws_its_table_math_and_code_live_and_reloaded(site, browser_page):  # noqa: F811
    page = browser_page
    stored = scripted_turn(site, QUESTION, ANSWER)
    assert stored["status"] == "completed"

    log_in(page, site)
    answer_with_stored_turn(page, stored, size=4)  # short pieces: every block is seen half-written
    page.reload()
    expect(page.locator("#conn")).to_have_attribute("data-state", "open", timeout=20000)
    page.click("label.effort-opt:has-text('High')")  # the stored turn's effort
    page.fill("#composer-text", QUESTION)
    page.keyboard.press("Enter")
    turn = page.locator(".turn").first
    expect(turn).to_have_attribute("data-status", "completed", timeout=20000)
    after_the_next_frame(page)
    body = turn.locator("[data-slot=final-body]")
    live = body.evaluate(RENDERED)
    assert live["header"] == ["n", "n²", "n³"]
    assert live["rows"] == [["2", "4", "8"], ["3", "9", "27"], ["12", "144", "1728"]]
    assert live["rightAligned"] == 6
    assert (live["inlineMath"], live["displayMath"]) == (3, 2)
    assert live["tex"] == ["n^2 = n \\cdot n", "n", "\\sum_{k=1}^{n} k^2 = \\frac{n(n+1)(2n+1)}{6}",
                           "12 \\times 34 = (10 + 2) \\times 34 = 408", "408 = 2^3 \\cdot 3 \\cdot 17"]
    assert ["hljs-keyword", "def"] in live["code"] and ["hljs-comment", "# the first n squares"] in live["code"]
    assert live["items"] == 2
    assert live["link"] == [["https://docs.python.org/3/library/stdtypes.html#range", "_blank",
                             "noopener noreferrer nofollow"]]
    assert_accessible(page)
    streamed = drawn_turns(page)
    turn.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "chat-answer-rendered.png"), full_page=True)

    page.reload()  # the site draws the stored turn
    expect(page.locator(".turn")).to_have_count(1)
    after_the_next_frame(page)
    assert page.locator(".turn [data-slot=final-body]").evaluate(RENDERED) == live
    assert drawn_turns(page) == streamed
