// The chat page: stored turns from the page, live turns from the WebSocket, the composer,
// the sidebar and the settings drawer. Frames go to the TurnView of their turn.

import { ComparisonView } from "./comparison_view.js";
import { ChatSocket } from "./socket.js";
import { SettingsDrawer, SettingsError } from "./settings.js";
import { DUPLICATE, GAP, sequence } from "./sequence.js";
import { TurnView } from "./turn_view.js";

const SETTINGS_KEYS = ["developer_instructions", "tools", "builtin_tools", "temperature", "top_p",
  "max_output_tokens", "seed"];
const EFFORT_KEY = "gptoss.effort";
const CHECK_EVERY_MS = 3000;
// A turn unheard of this long is followed again: that refreshes a queued turn's position and
// lets the server notice a running turn whose worker died.
const SILENT_MS = { queued: 5000, running: 15000 };

const page = JSON.parse(document.getElementById("page-data").textContent);
const $ = (selector) => document.querySelector(selector);
const transcript = $("#transcript");
const turnsNode = $("#turns");
const composer = $("#composer");
const textarea = $("#composer-text");
const sendButton = $("#send");
const compareButton = $("#compare");

let conversationId = page.conversation?.id ?? null;
const byTurnId = new Map();
const byRequestId = new Map();
const comparisonsByRequest = new Map(); // request id of a turn.compare -> its ComparisonView
let settingsProblem = null;

function requestId() {
  return crypto.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

// ---- turns ----

const actions = {
  cancel(view) {
    socket.send({ type: "turn.cancel", turn_id: view.turnId });
  },
  regenerate(view, effort) {
    const settings = Object.fromEntries(SETTINGS_KEYS.filter((k) => k in view.settings).map((k) => [k, view.settings[k]]));
    startTurn(view.userText, effort, settings, view.turnId);
  },
  toolOutput(view, callId, output) {
    socket.send({ type: "tool.output", turn_id: view.turnId, call_id: callId, output });
  },
  compare(view) {
    startComparison({ turn_id: view.turnId }, view.userText, view.settings, view.turnId);
  },
};
// A comparison's columns can be stopped and answer function calls; they are not regenerated
// or compared again (a comparison stays a side experiment).
const columnActions = { cancel: actions.cancel, toolOutput: actions.toolOutput };

function addView(options) {
  const view = new TurnView({ ...options, efforts: page.efforts, actions });
  turnsNode.append(view.el);
  $("#empty-state").hidden = true;
  if (view.turnId !== null) byTurnId.set(view.turnId, view);
  if (view.requestId) byRequestId.set(view.requestId, view);
  return view;
}

function showStored(payload) {
  const view = addView({
    userText: payload.user_text, effort: payload.effort, settings: payload.settings,
    turnId: payload.turn_id, regeneratedFrom: payload.regenerated_from,
  });
  view.applyAll(payload.frames);
  return view;
}

function addComparison(options) {
  const comparison = new ComparisonView({ ...options, efforts: page.efforts, actions: columnActions });
  turnsNode.append(comparison.el);
  $("#empty-state").hidden = true;
  for (const view of comparison.views.values()) if (view.turnId !== null) byTurnId.set(view.turnId, view);
  if (options.requestId) comparisonsByRequest.set(options.requestId, comparison);
  return comparison;
}

function showStoredComparison(payload) {
  const comparison = addComparison({
    userText: payload.user_text, settings: payload.settings, comparisonId: payload.comparison_id,
    sourceTurnId: payload.source_turn_id,
  });
  for (const turn of payload.turns) {
    const view = comparison.views.get(turn.effort);
    view.turnId = turn.turn_id;
    byTurnId.set(turn.turn_id, view);
    view.applyAll(turn.frames);
    if (!view.done) subscribe(view);
  }
  comparison.update();
}

// The same prompt at every effort (docs/protocol.md, turn.compare): `source` is either
// {conversation_id, text, settings} or {turn_id} of an earlier turn.
function startComparison(source, text, settings, sourceTurnId = null) {
  const frame = { type: "turn.compare", request_id: requestId(), ...source };
  addComparison({ userText: text, settings, requestId: frame.request_id, sourceTurnId });
  stickToBottom = true;
  scrollToBottom();
  socket.send(frame);
}

function startTurn(text, effort, settings, regenerateOf = null) {
  const frame = { type: "turn.create", request_id: requestId(), conversation_id: conversationId, text, effort, settings };
  if (regenerateOf !== null) frame.regenerated_from = regenerateOf;
  addView({ userText: text, effort, settings, requestId: frame.request_id, regeneratedFrom: regenerateOf });
  stickToBottom = true;
  scrollToBottom();
  socket.send(frame);
}

// The view a first turn.queued names: by its request id, and for a comparison's turn its effort.
function queuedView(frame) {
  const comparison = frame.comparison_id ? comparisonsByRequest.get(frame.request_id) : null;
  return comparison ? comparison.claim(frame) : byRequestId.get(frame.request_id);
}

function route(frame) {
  if (frame.type === "turn.queued" && !byTurnId.has(frame.turn_id) && queuedView(frame)) {
    const view = queuedView(frame);
    byTurnId.set(frame.turn_id, view);
    if (conversationId === null && frame.conversation_id !== null) enterConversation(frame.conversation_id, view.userText);
  }
  if (frame.type === "error" && frame.turn_id == null && comparisonsByRequest.has(frame.request_id)) {
    comparisonsByRequest.get(frame.request_id).refuse(frame); // the turn.compare was refused
    return;
  }
  const view = byTurnId.get(frame.turn_id) ?? byRequestId.get(frame.request_id);
  if (!view) {
    if (frame.type === "error") toast(frame.message);
    return;
  }
  if (frame.type === "error") view.catchingUp = false;
  if (frame.type === "turn.queued" && view.catchingUp) {
    view.catchingUp = false; // a catch-up replays the turn from its start
    view.nextSeq = null;
    view.clear();
  } else if (view.catchingUp && frame.type !== "error") {
    return; // sent before the catch-up, which has it too
  }
  const verdict = sequence(view, frame);
  if (verdict === GAP) subscribe(view); // a frame was lost on the way: redraw from the catch-up
  if (verdict === GAP || verdict === DUPLICATE) return;
  view.apply(frame);
  view.comparison?.update();
}

// Follow a turn again (after a reload, a reconnect, a silence, or a gap in its `seq`): the
// server sends what the turn has streamed so far, starting with turn.queued, then its live
// frames.
function subscribe(view) {
  view.catchingUp = true;
  view.lastFrameAt = Date.now();
  socket.send({ type: "turn.subscribe", turn_id: view.turnId });
}

function unfinished() {
  return [...new Set(byTurnId.values())].filter((v) => !v.done && v.turnId !== null);
}

setInterval(() => {
  for (const view of unfinished()) {
    const limit = SILENT_MS[view.status];
    if (limit && Date.now() - view.lastFrameAt > limit) subscribe(view);
  }
}, CHECK_EVERY_MS);

// ---- conversation and sidebar ----

function enterConversation(id, text) {
  conversationId = id;
  history.replaceState(null, "", `/c/${id}/`);
  const title = text.split(/\s+/).join(" ").slice(0, 80);
  $("#conv-title").textContent = title;
  document.title = `${title} · gpt-oss chat`;
  $("#conv-empty")?.remove();
  for (const item of document.querySelectorAll(".conv-item.active")) item.classList.remove("active");
  const item = document.createElement("a");
  item.className = "conv-item active";
  item.href = `/c/${id}/`;
  item.dataset.conversationId = id;
  const titleNode = document.createElement("span");
  titleNode.className = "conv-title";
  titleNode.textContent = title;
  const time = document.createElement("time");
  time.className = "conv-time";
  time.setAttribute("datetime", new Date().toISOString());
  item.append(titleNode, time);
  $(".conv-list-label").after(item);
  showTimes();
}

function toast(message) {
  const node = document.createElement("div");
  node.className = "toast";
  node.setAttribute("role", "alert");
  node.textContent = message;
  document.body.append(node);
  setTimeout(() => node.remove(), 6000);
}

// Sidebar times in the reader's zone: the hour for today, else the day.
function showTimes() {
  const today = new Date().toDateString();
  for (const node of document.querySelectorAll("time.conv-time[datetime]")) {
    const when = new Date(node.getAttribute("datetime"));
    if (Number.isNaN(when.getTime())) continue;
    node.textContent = when.toDateString() === today
      ? when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : when.toLocaleDateString([], { month: "short", day: "numeric" });
  }
}

// ---- scrolling: follow the stream unless the reader scrolled up ----

let stickToBottom = true;

function scrollToBottom() {
  transcript.scrollTop = transcript.scrollHeight;
}

transcript.addEventListener("scroll", () => {
  stickToBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 80;
});
new ResizeObserver(() => { if (stickToBottom) scrollToBottom(); }).observe(turnsNode);

// ---- composer ----

const effortInputs = [...composer.querySelectorAll("input[name=effort]")];
const savedEffort = localStorage.getItem(EFFORT_KEY);
for (const input of effortInputs) {
  if (input.value === savedEffort) input.checked = true;
  input.addEventListener("change", () => localStorage.setItem(EFFORT_KEY, input.value));
}

function autosize() {
  textarea.style.height = "auto";
  textarea.style.height = `${Math.min(textarea.scrollHeight, 240)}px`;
  sendButton.disabled = compareButton.disabled = !textarea.value.trim();
}

textarea.addEventListener("input", autosize);
textarea.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    composer.requestSubmit();
  }
});

// What the composer holds, as [text, settings]; null when there is nothing to send or the
// settings drawer has a problem (it is opened to show it).
function composed() {
  const text = textarea.value.trim();
  if (!text) return null;
  try {
    return [text, drawer.value()];
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    drawer.open();
    return null;
  }
}

function clearComposer() {
  textarea.value = "";
  autosize();
}

composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const message = composed();
  if (!message) return;
  const effort = effortInputs.find((i) => i.checked)?.value ?? "medium";
  startTurn(message[0], effort, message[1]);
  clearComposer();
});

compareButton.addEventListener("click", () => {
  const message = composed();
  if (!message) return;
  const [text, settings] = message;
  startComparison({ conversation_id: conversationId, text, settings }, text, settings);
  clearComposer();
});

for (const button of document.querySelectorAll("[data-suggest]")) {
  button.addEventListener("click", () => {
    textarea.value = button.dataset.suggest;
    autosize();
    textarea.focus();
  });
}

// ---- drawer, sidebar, connection state ----

const drawer = new SettingsDrawer($("#settings"), $("#settings-scrim"), {
  onChange({ changes, problem }) {
    settingsProblem = problem;
    const badge = $("#settings-badge");
    badge.hidden = !changes && !problem;
    badge.textContent = problem ? "!" : String(changes);
    badge.classList.toggle("bad", Boolean(problem));
  },
});

document.addEventListener("click", (event) => {
  const action = event.target.closest("[data-action]")?.dataset.action;
  if (action === "open-settings") drawer.open();
  else if (action === "close-settings" && !settingsProblem) drawer.close();
  else if (action === "reset-settings") drawer.reset();
  else if (action === "open-sidebar") document.body.classList.add("sidebar-open");
  else if (action === "close-sidebar") document.body.classList.remove("sidebar-open");
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    if (!settingsProblem) drawer.close();
    document.body.classList.remove("sidebar-open");
  }
});

const conn = $("#conn");
const socket = new ChatSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/chat/`, {
  onFrame: route,
  onState(state, { attempt }) {
    conn.dataset.state = state;
    conn.querySelector(".conn-text").textContent =
      state === "open" ? "Connected" : state === "connecting" ? "Connecting…"
        : state === "ended" ? "Signed out" : `Reconnecting${attempt > 1 ? ` (${attempt})` : ""}…`;
  },
  onReopen() {
    for (const view of unfinished()) subscribe(view);
  },
  // The session ended (signed out elsewhere, password changed, account disabled): reloading
  // shows the login page, or, where the session goes on under a new key, the chat again.
  onSessionEnd() {
    location.reload();
  },
});

// ---- stored turns ----

// Each comparison is drawn where it was asked: before the first turn asked after it.
const storedComparisons = [...(page.conversation?.comparisons ?? [])];
const firstTurnOf = (comparison) => Math.min(...comparison.turns.map((t) => t.turn_id));
for (const payload of page.conversation?.turns ?? []) {
  while (storedComparisons.length && firstTurnOf(storedComparisons[0]) < payload.turn_id) {
    showStoredComparison(storedComparisons.shift());
  }
  const view = showStored(payload);
  if (!view.done) subscribe(view);
}
storedComparisons.forEach(showStoredComparison);
showTimes();
scrollToBottom();
autosize();
textarea.focus();
