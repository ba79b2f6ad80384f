// Renders the model's Markdown answers with maintained libraries, which the chat page loads as
// classic scripts from static/vendor (pinned and refreshed by static/vendor/refresh.sh):
// markdown-it (CommonMark, GFM tables and strikethrough, bare URLs linked), markdown-it-texmath
// with KaTeX for `$…$`, `$$…$$`, `\(…\)` and `\[…\]`, highlight.js for fenced code, and
// DOMPurify over every piece of HTML they produce.
//
// The text is untrusted: markdown-it runs with HTML disabled (raw tags are shown as text),
// links keep only http(s) and mailto targets, KaTeX runs untrusted (no \href, \htmlClass…),
// and DOMPurify removes whatever else would slip through.
//
// While an answer streams it is rendered again on every animation frame. Only the top-level
// blocks whose source changed are rendered again: the DOM of the blocks before them is kept,
// so a long answer does not re-typeset its math or re-highlight its code on every token.

const { markdownit, texmath, katex, hljs, DOMPurify } = globalThis;

const SAFE_URL = /^(?:https?:|mailto:)/i;
const ALIGN = /^text-align:(left|right|center)$/;

function highlight(code, lang) {
  if (!lang || !hljs.getLanguage(lang)) return ""; // markdown-it escapes it as plain code
  return hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
}

const md = markdownit({ html: false, linkify: true, langPrefix: "hljs language-", highlight });
md.validateLink = (url) => SAFE_URL.test(url.trim());
md.disable("image"); // the CSP allows no image from elsewhere: `![alt](url)` stays a link
// KaTeX sizes its boxes with style attributes, which the CSP forbids in markup but allows
// through the CSSOM: they travel as data-katex-style (KaTeX escapes quotes in what it writes,
// so ` style="` is only ever one of its attributes) and are applied as element.style below.
const typeset = {
  renderToString: (tex, options) =>
    katex.renderToString(tex, options).replaceAll(' style="', ' data-katex-style="'),
};
md.use(texmath, {
  engine: typeset,
  delimiters: ["dollars", "brackets"],
  // untrusted: no \href, \url, \html…; bounded macro expansion and box sizes
  katexOptions: { throwOnError: false, trust: false, strict: "ignore", maxExpand: 200, maxSize: 20 },
});

const rules = md.renderer.rules;
const asIs = (tokens, i, options, env, self) => self.renderToken(tokens, i, options);
rules.link_open = (tokens, i, options, env, self) => {
  tokens[i].attrSet("target", "_blank");
  tokens[i].attrSet("rel", "noopener noreferrer nofollow");
  return asIs(tokens, i, options, env, self);
};
// Wide tables scroll inside their own box instead of widening the pane.
rules.table_open = (...args) => `<div class="table-wrap">${asIs(...args)}`;
rules.table_close = (...args) => `${asIs(...args)}</div>`;
// A column's alignment as a class: the CSP forbids style attributes in markup.
for (const cell of ["th_open", "td_open"]) {
  rules[cell] = (tokens, i, options, env, self) => {
    const align = ALIGN.exec(tokens[i].attrGet("style") ?? "");
    if (align) {
      tokens[i].attrs = tokens[i].attrs.filter(([name]) => name !== "style");
      tokens[i].attrJoin("class", `align-${align[1]}`);
    }
    return asIs(tokens, i, options, env, self);
  };
}

// Links keep only http(s) and mailto targets, whoever made them.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.hasAttribute?.("href") && !SAFE_URL.test(node.getAttribute("href"))) node.removeAttribute("href");
});
const PURIFY = {
  RETURN_DOM_FRAGMENT: true,
  // markdown-it-texmath's wrappers of inline and display math; the TeX source KaTeX keeps
  // beside its MathML (text only) for screen readers and copying
  ADD_TAGS: ["eq", "eqn", "semantics", "annotation"],
  ADD_ATTR: ["target", "encoding"],
  FORBID_ATTR: ["style"],
};

function renderHtml(html) {
  const fragment = DOMPurify.sanitize(html, PURIFY);
  for (const node of fragment.querySelectorAll(".katex [data-katex-style]")) {
    node.style.cssText = node.dataset.katexStyle;
    node.removeAttribute("data-katex-style");
  }
  return [...fragment.childNodes];
}

// The top-level blocks of a token stream, each keyed by the source lines it was parsed from
// and the link references of the whole text (null: no source map, never kept).
function topLevelBlocks(tokens, lines, references) {
  const blocks = [];
  let start = 0;
  for (let i = 0; i < tokens.length; i += 1) {
    const token = tokens[i];
    if (token.level !== 0 || token.nesting === 1) continue; // inside a block, or its opening
    const { map } = tokens[start];
    const key = map ? `${references}\0${lines.slice(map[0], map[1]).join("\n")}` : null;
    blocks.push({ tokens: tokens.slice(start, i + 1), key });
    start = i + 1;
  }
  return blocks;
}

const drawn = new WeakMap(); // container -> [{key, nodes}] as last drawn

// Draw `text` into `container`, keeping the DOM of the leading blocks drawn last time whose
// source (and the link references they may use) has not changed.
export function renderMarkdown(container, text) {
  const source = String(text).replace(/\r\n?/g, "\n");
  const env = {};
  const tokens = md.parse(source, env);
  const blocks = topLevelBlocks(tokens, source.split("\n"), JSON.stringify(env.references ?? {}));
  const before = drawn.get(container) ?? [];
  if (!drawn.has(container)) container.replaceChildren(); // drawn by something else before
  let same = 0;
  while (same < blocks.length && same < before.length && blocks[same].key !== null &&
         before[same].key === blocks[same].key) same += 1;
  for (const old of before.slice(same)) for (const node of old.nodes) node.remove();
  const after = before.slice(0, same);
  for (const block of blocks.slice(same)) {
    const nodes = renderHtml(md.renderer.render(block.tokens, md.options, env));
    container.append(...nodes);
    after.push({ key: block.key, nodes });
  }
  drawn.set(container, after);
}
