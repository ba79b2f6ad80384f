// The harmony token timeline of one turn (templates/chat/timeline.html): the JSON of
// webapp/chat/turn_timeline.py drawn round by round, each round's prompt ("given") and
// completion ("written") apart, each message a block coloured by its channel with its
// role, channel and recipient as a label, special tokens as badges.
//
// Long turns stay fast: tokens are drawn in chunks of CHUNK, and a chunk only when it comes
// near the viewport (IntersectionObserver); until then it is an empty box of about its size.
// The tokens are one tab stop: focus one, then move with the arrow keys (Home/End: first and
// last); a tooltip says the focused or hovered token's id, position and message.

import { copyText } from "./copy_code.js";

const CHUNK = 200;
const LINE_CHARS = 96; // about a line of the timeline's monospace text, for the empty boxes
const LINE_PX = 22;
const MESSAGE_ID = 200008; // <|message|>: a message's header ends here
const number = new Intl.NumberFormat("en");

const page = JSON.parse(document.getElementById("page-data").textContent);
const $ = (selector) => document.querySelector(selector);
const roundsBox = $("#tl-rounds");
const summary = $("#tl-summary");
const errorBox = $("#tl-error");
const tip = document.createElement("div");
tip.className = "tl-tip";
tip.id = "tl-tip";
tip.setAttribute("role", "tooltip");
tip.hidden = true;
document.body.append(tip);

const tokens = []; // every token of the timeline: {token, span, chunk}, in drawing order
const chunks = []; // {el, first, count, drawn}
let focused = 0; // the token that holds the tab stop

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// analysis, commentary, final; tool answers; system, developer and user messages are "plain"
function kindOf(span) {
  if (span.role === "tool") return "tool";
  if (span.channel === "analysis" || span.channel === "commentary" || span.channel === "final") return span.channel;
  if (span.channel) return "other";
  return span.part === "completion" ? "other" : "plain";
}

function labelOf(span) {
  const label = el("div", "tl-msg-label");
  label.append(el("span", "tl-role", span.role === "tool" ? span.author : (span.role ?? "prompt")));
  if (span.channel) label.append(el("span", "tl-channel", span.channel));
  if (span.recipient) label.append(el("span", "tl-recipient", `to ${span.recipient}`));
  if (span.role === "tool") label.append(el("span", "tl-badge", "tool answer"));
  if (span.part === "prompt" && span.role === "assistant" && span.channel === null
      && span.tokens.length <= 2) label.append(el("span", "tl-badge", "the model writes from here"));
  return label;
}

function describe(entry) {
  const { token, span } = entry;
  const where = `${span.part === "prompt" ? "given in the prompt" : "written"} in round ${span.round + 1}`;
  const who = [span.role === "tool" ? span.author : span.role, span.channel,
    span.recipient ? `to ${span.recipient}` : null].filter(Boolean).join(" · ");
  const text = token.hex ? `bytes ${token.hex}` : JSON.stringify(token.text);
  return `Position ${number.format(token.position)} · id ${token.id}${token.special ? " (special)" : ""} · ${text} · ${where} · ${who}`;
}

// A token's text with its whitespace made visible, as the tokenizer page draws it.
function tokenNode(index) {
  const { token, header } = tokens[index];
  const node = el("span", "tl-tok");
  if (token.special) node.classList.add("tl-special");
  else if (header) node.classList.add("tl-header");
  node.dataset.g = index;
  node.tabIndex = index === focused ? 0 : -1;
  node.title = `id ${token.id} · position ${token.position}`;
  if (token.hex) {
    node.classList.add("tl-bytes");
    node.textContent = token.hex;
    return node;
  }
  for (const part of token.text.split(/(\t|\n)/)) {
    if (part === "\t" || part === "\n") {
      node.append(el("span", "tl-ws", part === "\t" ? "⇥" : "↵"), part);
    } else if (part) {
      node.append(part);
    }
  }
  return node;
}

function drawChunk(chunk) {
  if (chunk.drawn) return;
  chunk.drawn = true;
  observer.unobserve(chunk.el);
  const nodes = [];
  for (let i = chunk.first; i < chunk.first + chunk.count; i++) nodes.push(tokenNode(i));
  chunk.el.replaceChildren(...nodes);
  chunk.el.classList.remove("tl-pending");
  chunk.el.style.minHeight = "";
}

const observer = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (entry.isIntersecting) drawChunk(chunks[Number(entry.target.dataset.chunk)]);
  }
}, { rootMargin: "400px 0px" });

function chunkBox(first, count) {
  const box = el("span", "tl-chunk tl-pending");
  let chars = 0;
  for (let i = first; i < first + count; i++) chars += tokens[i].token.text.length;
  box.style.minHeight = `${Math.max(1, Math.ceil(chars / LINE_CHARS)) * LINE_PX}px`;
  box.dataset.chunk = chunks.length;
  chunks.push({ el: box, first, count, drawn: false });
  observer.observe(box);
  return box;
}

function messageBlock(span) {
  const block = el("div", "tl-msg");
  block.dataset.kind = kindOf(span);
  block.dataset.part = span.part;
  block.append(labelOf(span));
  const body = el("div", "tl-msg-body");
  let header = true;
  const first = tokens.length;
  for (const token of span.tokens) {
    tokens.push({ token, span, header });
    if (token.id === MESSAGE_ID) header = false;
  }
  for (let at = first; at < tokens.length; at += CHUNK) {
    body.append(chunkBox(at, Math.min(CHUNK, tokens.length - at)));
  }
  block.append(body);
  return block;
}

function part(round, name, spans) {
  const box = el("div", `tl-part tl-${name}`);
  const head = el("div", "tl-part-head");
  const count = spans.reduce((n, s) => n + s.tokens.length, 0);
  if (name === "prompt") {
    head.append(el("strong", "", "Given"), ` · prompt of ${number.format(round.prompt_tokens)} tokens`);
    if (round.reused) {
      head.append(el("span", "tl-reused",
        ` · positions 0–${number.format(round.reused - 1)} are round ${round.round}'s prompt and completion; ` +
        `from ${number.format(round.reused)} on (${number.format(count)} tokens):`));
    }
  } else {
    head.append(el("strong", "", "Written"), ` · completion of ${number.format(count)} tokens`);
  }
  box.append(head);
  if (!spans.length) box.append(el("p", "tl-empty", name === "prompt" ? "Nothing new." : "Nothing was written."));
  for (const span of spans) box.append(messageBlock(span));
  return box;
}

function roundSection(round, total) {
  const section = el("section", "tl-round");
  section.dataset.round = round.round;
  const head = el("h2", "tl-round-head");
  head.id = `tl-round-${round.round}`;
  section.setAttribute("aria-labelledby", head.id);
  head.append(`Round ${round.round + 1} of ${total}`);
  if (round.tools.length) head.append(el("span", "tl-tool-mark", `after ${round.tools.join(", ")} answered`));
  section.append(head);
  section.append(part(round, "prompt", round.spans.filter((s) => s.part === "prompt")));
  section.append(part(round, "completion", round.spans.filter((s) => s.part === "completion")));
  return section;
}

// ---- the tab stop, the arrow keys and the tooltip ----

function nodeOf(index) {
  const chunk = chunks.find((c) => index >= c.first && index < c.first + c.count);
  drawChunk(chunk);
  return chunk.el.querySelector(`[data-g="${index}"]`);
}

function showTip(node) {
  const entry = tokens[Number(node.dataset.g)];
  tip.textContent = describe(entry);
  tip.hidden = false;
  const box = node.getBoundingClientRect();
  tip.style.left = `${Math.max(8, Math.min(box.left, window.innerWidth - tip.offsetWidth - 8))}px`;
  const below = box.bottom + 6;
  tip.style.top = `${below + tip.offsetHeight > window.innerHeight ? box.top - tip.offsetHeight - 6 : below}px`;
}

function hideTip() {
  tip.hidden = true;
}

function moveTo(index) {
  const target = Math.max(0, Math.min(tokens.length - 1, index));
  const old = roundsBox.querySelector(`[data-g="${focused}"]`);
  if (old) {
    old.tabIndex = -1;
    old.removeAttribute("aria-describedby");
  }
  focused = target;
  const node = nodeOf(target);
  node.tabIndex = 0;
  node.setAttribute("aria-describedby", "tl-tip");
  node.focus();
  node.scrollIntoView({ block: "nearest" });
  showTip(node);
}

const KEYS = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 20, ArrowUp: -20 };

roundsBox.addEventListener("keydown", (event) => {
  const node = event.target.closest(".tl-tok");
  if (!node) return;
  const at = Number(node.dataset.g);
  if (event.key in KEYS) moveTo(at + KEYS[event.key]);
  else if (event.key === "Home") moveTo(0);
  else if (event.key === "End") moveTo(tokens.length - 1);
  else if (event.key === "Escape") hideTip();
  else return;
  event.preventDefault();
});
roundsBox.addEventListener("focusin", (event) => {
  const node = event.target.closest(".tl-tok");
  if (node && Number(node.dataset.g) !== focused) moveTo(Number(node.dataset.g));
  else if (node) {
    node.setAttribute("aria-describedby", "tl-tip");
    showTip(node);
  }
});
roundsBox.addEventListener("focusout", hideTip);
roundsBox.addEventListener("mouseover", (event) => {
  const node = event.target.closest(".tl-tok");
  if (node) showTip(node);
});
roundsBox.addEventListener("mouseleave", () => {
  if (!roundsBox.contains(document.activeElement)) hideTip();
});

// ---- copy as code ----

function wireCopy(code) {
  const note = $("#tl-copied");
  $("[data-code=python]").textContent = code.python;
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.disabled = false;
    button.addEventListener("click", async () => {
      const what = button.dataset.copy === "prompt" ? "The prompt text" : "The Python";
      try {
        await copyText(code[button.dataset.copy]);
        note.textContent = `${what} is copied.`;
      } catch (error) {
        note.textContent = `${what} could not be copied (${error.message}); select it below instead.`;
      }
    });
  }
}

// ---- loading ----

function showSummary(data) {
  const set = (name, value) => { summary.querySelector(`[data-sum=${name}]`).textContent = value; };
  set("rounds", number.format(data.rounds.length));
  set("prompt", number.format(data.prompt_tokens));
  set("completion", number.format(data.completion_tokens));
  set("date", data.date);
  summary.setAttribute("aria-busy", "false");
  // what the worker counted as it ran, against what is shown: a difference is said, not hidden
  const notes = [];
  const { prompt_tokens: given, output_tokens: wrote } = data.counted;
  if (typeof given === "number" && given !== data.prompt_tokens) {
    notes.push(`The worker counted ${number.format(given)} prompt tokens for this turn; the prompts ` +
      `rebuilt here hold ${number.format(data.prompt_tokens)}: its history or its tools have changed ` +
      `since it ran, and what is shown is not exactly what the model was given.`);
  }
  if (typeof wrote === "number" && wrote !== data.completion_tokens) {
    notes.push(`The model wrote ${number.format(wrote)} tokens; ${number.format(data.completion_tokens)} ` +
      `are shown (tokens written outside any message are not stored, and messages stored without ` +
      `their tokens are shown as harmony renders them).`);
  }
  errorBox.textContent = notes.join(" ");
  errorBox.hidden = !notes.length;
}

async function load() {
  try {
    const response = await fetch(page.source, { credentials: "same-origin" });
    const kind = response.headers.get("Content-Type") || "";
    if (response.redirected || !kind.startsWith("application/json")) {
      throw new Error("You are signed out: reload the page to sign in again.");
    }
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || `The server answered ${response.status}.`);
    showSummary(data);
    roundsBox.replaceChildren(...data.rounds.map((round) => roundSection(round, data.rounds.length)));
    roundsBox.setAttribute("aria-busy", "false");
    wireCopy(data.code);
  } catch (error) {
    roundsBox.replaceChildren();
    roundsBox.setAttribute("aria-busy", "false");
    errorBox.textContent = error.message === "Failed to fetch" ? "The server cannot be reached; reload to try again." : error.message;
    errorBox.hidden = false;
  }
}

load();
