// The tokenizer inspector: the text goes to /api/tokenize/ (POST, CSRF token from the form),
// the answer is drawn as two token streams (o200k_harmony, cl100k_base) with their counts and
// ratio. Tokens alternate five soft colours so their boundaries show; each one's id is in its
// title. A token whose bytes are part of a character (split across tokens) shows them in hex.

const API = "/api/tokenize/";
const DEBOUNCE_MS = 250;
const COLOURS = 5;

const page = JSON.parse(document.getElementById("page-data").textContent);
const $ = (selector) => document.querySelector(selector);
const form = $("#tok-form");
const textarea = $("#tok-text");
const errorBox = $("#tok-error");
const summary = $("#tok-summary");
const lengthNote = $("#tok-length");
const csrfToken = form.querySelector("[name=csrfmiddlewaretoken]").value;
const number = new Intl.NumberFormat("en");
// characters as the server counts them (code points: an emoji is one, not two UTF-16 units)
const characters = (text) => [...text].length;

let timer = null;
let latest = 0; // the number of the newest request: older answers are dropped
let inFlight = null;

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
}

// A token's text with its whitespace made visible: tabs as ⇥, newlines as ↵ (then a real line
// break, so lines stay lines); spaces stay spaces (the token's background shows them).
function tokenNode(token, index) {
  const el = document.createElement("span");
  el.className = `tk tk-c${index % COLOURS}`;
  if (token.hex) {
    el.classList.add("tk-bytes");
    el.textContent = token.hex;
    el.title = `id ${token.id} · bytes ${token.hex}, part of a character split across tokens`;
    return el;
  }
  for (const part of token.text.split(/(\t|\n)/)) {
    if (part === "\t" || part === "\n") {
      const mark = document.createElement("span");
      mark.className = "tk-ws";
      mark.textContent = part === "\t" ? "⇥" : "↵";
      el.append(mark, part === "\t" ? "\t" : "\n");
    } else if (part) {
      el.append(part);
    }
  }
  el.title = `id ${token.id} · ${JSON.stringify(token.text)}`;
  return el;
}

function draw(result) {
  for (const stream of document.querySelectorAll("[data-tokens]")) {
    const name = stream.dataset.tokens;
    const { count, tokens } = result[name];
    const nodes = tokens.map(tokenNode);
    if (!nodes.length) {
      const empty = document.createElement("p");
      empty.className = "tok-empty";
      empty.textContent = "Tokens appear here.";
      nodes.push(empty);
    }
    stream.replaceChildren(...nodes);
    summary.querySelector(`[data-count="${name}"]`).textContent = number.format(count);
    summary.querySelector(`[data-unit="${name}"]`).textContent = count === 1 ? "token" : "tokens";
    document.querySelector(`[data-ids="${name}"]`).textContent = tokens.map((t) => t.id).join(" ");
  }
  summary.querySelector("[data-ratio]").textContent =
    result.ratio === null ? "–" : `${result.ratio.toFixed(2)}×`;
  summary.querySelector("[data-chars]").textContent = number.format(result.chars);
}

async function tokenize() {
  clearTimeout(timer);
  const text = textarea.value;
  if (characters(text) > page.max_chars) {
    showError(`The text is ${number.format(characters(text))} characters; the tokenizer takes at most ${number.format(page.max_chars)}.`);
    return;
  }
  const mine = ++latest;
  inFlight?.abort();
  inFlight = new AbortController();
  summary.setAttribute("aria-busy", "true");
  try {
    const response = await fetch(API, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
      body: JSON.stringify({ text }),
      credentials: "same-origin",
      signal: inFlight.signal,
    });
    const kind = response.headers.get("Content-Type") || "";
    if (response.redirected || !kind.startsWith("application/json")) {
      throw new Error(response.status === 403
        ? "The page is out of date (its security token was refused): reload it."
        : "You are signed out: reload the page to sign in again.");
    }
    const result = await response.json();
    if (mine !== latest) return;
    if (!response.ok) throw new Error(result.error || `The server answered ${response.status}.`);
    showError("");
    draw(result);
  } catch (error) {
    if (error.name === "AbortError" || mine !== latest) return;
    showError(error.message === "Failed to fetch" ? "The server cannot be reached; try again." : error.message);
  } finally {
    if (mine === latest) summary.setAttribute("aria-busy", "false");
  }
}

function noteLength() {
  const length = characters(textarea.value);
  lengthNote.textContent = `${number.format(length)} / ${number.format(page.max_chars)} characters`;
  lengthNote.classList.toggle("over", length > page.max_chars);
}

textarea.addEventListener("input", () => {
  noteLength();
  clearTimeout(timer);
  timer = setTimeout(tokenize, DEBOUNCE_MS);
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  tokenize();
});

for (const button of document.querySelectorAll("[data-example]")) {
  button.addEventListener("click", () => {
    textarea.value = page.examples[Number(button.dataset.example)];
    noteLength();
    tokenize();
  });
}

noteLength();
if (textarea.value) tokenize(); // a reload that kept the text
