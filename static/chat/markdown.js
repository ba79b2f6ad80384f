// A small Markdown renderer for untrusted model output.
//
// It never parses HTML: every piece of text becomes a Text node and every element is made
// with createElement, so `<script>` or `<img onerror>` in the model's answer is shown as
// text. Links keep only http(s) and mailto targets. It is forgiving of half-written input
// because the final answer is re-rendered while it streams (an unclosed code fence simply
// runs to the end).

const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([\w+#.-]*)\s*$/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/;
const RULE = /^\s{0,3}([-*_])(?:\s*\1){2,}\s*$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;
const ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const TABLE_SEPARATOR = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;
const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);

function el(tag, children = [], attrs = {}) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
}

function safeHref(url) {
  try {
    const parsed = new URL(url);
    return SAFE_PROTOCOLS.has(parsed.protocol) ? parsed.href : null;
  } catch {
    return null;
  }
}

function link(text, url) {
  const href = safeHref(url);
  if (!href) return [document.createTextNode(text)];
  return [el("a", inline(text), { href, target: "_blank", rel: "noopener noreferrer nofollow" })];
}

// Inline spans, earliest match first; the order breaks ties (code before emphasis).
const INLINE = [
  { re: /(`+)([\s\S]*?[^`])\1(?!`)/, make: (m) => [el("code", [m[2].trim() ? m[2].replace(/^ (.*) $/, "$1") : m[2]])] },
  { re: /\[([^\]\n]+)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/, make: (m) => link(m[1], m[2]) },
  { re: /https?:\/\/[^\s<>()]*[^\s<>().,;:!?'"*_~]/, make: (m) => link(m[0], m[0]) },
  { re: /\*\*(?=\S)([\s\S]*?\S)\*\*/, make: (m) => [el("strong", inline(m[1]))] },
  { re: /(?<!\w)__(?=\S)([\s\S]*?\S)__(?!\w)/, make: (m) => [el("strong", inline(m[1]))] },
  { re: /~~(?=\S)([\s\S]*?\S)~~/, make: (m) => [el("del", inline(m[1]))] },
  { re: /\*(?=[^\s*])([^*]*?[^\s*])\*/, make: (m) => [el("em", inline(m[1]))] },
  { re: /\*(?=[^\s*])([^*])\*/, make: (m) => [el("em", inline(m[1]))] },
  { re: /(?<!\w)_(?=[^\s_])([^_]*?[^\s_]|[^\s_])_(?!\w)/, make: (m) => [el("em", inline(m[1]))] },
  { re: /\\([\\`*_{}[\]()#+\-.!|~>])/, make: (m) => [document.createTextNode(m[1])] },
  { re: / {2,}\n|\n/, make: () => [el("br")] },
];

export function inline(text) {
  const nodes = [];
  let rest = text;
  while (rest) {
    let best = null;
    for (const rule of INLINE) {
      const m = rule.re.exec(rest);
      if (m && (best === null || m.index < best.m.index)) best = { m, rule };
    }
    if (!best) {
      nodes.push(document.createTextNode(rest));
      break;
    }
    if (best.m.index > 0) nodes.push(document.createTextNode(rest.slice(0, best.m.index)));
    nodes.push(...best.rule.make(best.m));
    rest = rest.slice(best.m.index + best.m[0].length);
  }
  return nodes;
}

function splitRow(line) {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
  return row.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, "|"));
}

function table(header, separator, rows) {
  const aligns = splitRow(separator).map((cell) =>
    cell.startsWith(":") && cell.endsWith(":") ? "center" : cell.endsWith(":") ? "right" : cell.startsWith(":") ? "left" : null);
  const cell = (tag, text, i) => {
    const node = el(tag, inline(text));
    if (aligns[i]) node.style.textAlign = aligns[i];
    return node;
  };
  const head = el("thead", [el("tr", splitRow(header).map((t, i) => cell("th", t, i)))]);
  const body = el("tbody", rows.map((r) => el("tr", splitRow(r).map((t, i) => cell("td", t, i)))));
  return el("div", [el("table", [head, body])], { class: "table-wrap" });
}

function startsBlock(line, next) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) ||
    ITEM.test(line) || (line.includes("|") && next !== undefined && TABLE_SEPARATOR.test(next));
}

function indentOf(line) {
  return line.match(/^\s*/)[0].replace(/\t/g, "    ").length;
}

function list(lines, i) {
  const first = lines[i].match(ITEM);
  const ordered = /\d/.test(first[2]);
  const base = first[1].length;
  const items = [];
  while (i < lines.length) {
    const m = lines[i].match(ITEM);
    if (!m || m[1].length !== base || /\d/.test(m[2]) !== ordered) break;
    const content = [m[3]];
    const inner = base + m[2].length + 1;
    i += 1;
    // continuation: indented lines (nested lists, wrapped text) and blank lines between them
    while (i < lines.length) {
      const line = lines[i];
      if (line.trim() === "") {
        const next = lines[i + 1];
        if (next !== undefined && next.trim() !== "" && indentOf(next) > base) { content.push(""); i += 1; continue; }
        break;
      }
      if (indentOf(line) > base) { content.push(line.slice(Math.min(inner, indentOf(line)))); i += 1; continue; }
      if (ITEM.test(line) || startsBlock(line, lines[i + 1])) break;
      content.push(line); // a lazy continuation of the item's paragraph
      i += 1;
    }
    items.push(content);
  }
  const node = el(ordered ? "ol" : "ul", items.map((content) => el("li", blocks(content))));
  if (ordered && Number.parseInt(first[2], 10) !== 1) node.setAttribute("start", String(Number.parseInt(first[2], 10)));
  return [node, i];
}

function blocks(lines) {
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === "") { i += 1; continue; }
    let m;
    if ((m = line.match(FENCE))) {
      const body = [];
      i += 1;
      while (i < lines.length && !(lines[i].trim().startsWith(m[1][0].repeat(m[1].length)) && lines[i].trim().replace(/[`~]/g, "") === "")) {
        body.push(lines[i]);
        i += 1;
      }
      i += 1;
      const code = el("code", [body.join("\n")]);
      if (m[2]) code.dataset.lang = m[2];
      out.push(el("pre", [code]));
    } else if ((m = line.match(HEADING))) {
      out.push(el(`h${m[1].length}`, inline(m[2])));
      i += 1;
    } else if (RULE.test(line)) {
      out.push(el("hr"));
      i += 1;
    } else if (QUOTE.test(line)) {
      const body = [];
      while (i < lines.length && lines[i].trim() !== "" && (m = lines[i].match(QUOTE) || [null, lines[i]])) {
        body.push(m[1]);
        i += 1;
      }
      out.push(el("blockquote", blocks(body)));
    } else if (ITEM.test(line)) {
      const [node, next] = list(lines, i);
      out.push(node);
      i = next;
    } else if (line.includes("|") && TABLE_SEPARATOR.test(lines[i + 1] ?? "")) {
      const rows = [];
      let j = i + 2;
      while (j < lines.length && lines[j].includes("|") && lines[j].trim() !== "") rows.push(lines[j++]);
      out.push(table(line, lines[i + 1], rows));
      i = j;
    } else {
      const para = [line.trim()];
      i += 1;
      while (i < lines.length && lines[i].trim() !== "" && !startsBlock(lines[i], lines[i + 1])) {
        para.push(lines[i].trim());
        i += 1;
      }
      out.push(el("p", inline(para.join("\n"))));
    }
  }
  return out;
}

// Replace the children of `container` with the rendering of `text`.
export function renderMarkdown(container, text) {
  container.replaceChildren(...blocks(String(text).replace(/\r\n?/g, "\n").split("\n")));
}
