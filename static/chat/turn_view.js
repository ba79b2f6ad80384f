// One turn on screen: the user's text, then the Analysis, Tool calls and Final panes, the
// status chip, the metrics strip and the turn's actions. It is driven only by protocol
// frames (docs/protocol.md), whether they arrive live over the WebSocket or were rebuilt from
// the database for a stored turn, so a reload shows exactly what was streamed.
// Applying a frame twice is harmless: a repeated `message.start` restarts that message,
// which is how a reconnecting client catches up.

import { renderMarkdown } from "./markdown.js";
import * as fmt from "./format.js";
import { copyTurnCode } from "./copy_code.js";

const DONE = new Set(["completed", "cancelled", "failed", "length"]);
const STAGE = { sending: 0, queued: 1, running: 2, awaiting: 2 };
const DONE_TEXT = {
  completed: "Completed",
  cancelled: "Stopped",
  failed: "Failed",
  length: "Token limit reached",
};
const FINAL_PLACEHOLDER = { // working states get animated dots
  sending: "Sending",
  queued: "Waiting for a free worker (a worker that just started loads the model first)",
  running: "The answer appears here as soon as the model writes it",
  awaiting: "Paused until the function's output is sent.",
  cancelled: "Stopped before a final answer.",
  failed: "No final answer.",
  length: "The token limit was reached before a final answer.",
  completed: "The model gave no final answer.",
};

// Why a queued turn waits when no worker can take it (the `workers` of turn.queued).
function workerWait(workers) {
  if (!workers || workers.ready > 0) return null;
  if (workers.loading > 0) return "a worker is loading the model";
  if (workers.failed > 0) return "the worker could not load the model";
  return "no worker is running";
}

// What the time to first token was spent on (metrics render_ms, prefill_ms_by_round, publish_ms).
function ttftParts(m) {
  const parts = [["render", m.render_ms], ["prefill", m.prefill_ms_by_round?.[0]], ["publish", m.publish_ms]]
    .filter(([, ms]) => ms !== null && ms !== undefined);
  return parts.length ? parts.map(([name, ms]) => `${name} ${fmt.ms(ms)}`).join(" · ") : null;
}

export function slots(root) {
  const found = {};
  for (const node of root.querySelectorAll("[data-slot]")) found[node.dataset.slot] = node;
  return found;
}

export function fromTemplate(id) {
  return document.getElementById(id).content.firstElementChild.cloneNode(true);
}

function pretty(value) {
  if (typeof value === "string") {
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      return value;
    }
  }
  return JSON.stringify(value, null, 2);
}

function toolNameOf(address) {
  if (!address) return "tool";
  return address.startsWith("functions.") ? address.slice("functions.".length) : address;
}

function paneOf(message) {
  if (message.role === "tool") return "tool-output";
  if (message.recipient) return "tool-call";
  if (message.channel === "analysis") return "analysis";
  if (message.channel === "commentary") return "preamble";
  if (message.channel === "unparsed") return "unparsed";
  return "final";
}

export class TurnView {
  // actions: { cancel(view), regenerate(view, effort), toolOutput(view, callId, output),
  //            compare(view) }; a turn without regenerate or compare does not offer them
  constructor({ userText, effort, settings = {}, turnId = null, requestId = null,
                regeneratedFrom = null, efforts = ["low", "medium", "high"], actions }) {
    this.userText = userText;
    this.effort = effort;
    this.settings = settings;
    this.turnId = turnId;
    this.requestId = requestId;
    this.regeneratedFrom = regeneratedFrom;
    this.efforts = efforts;
    this.actions = actions;
    this.lastFrameAt = Date.now();
    this.el = fromTemplate("turn-template");
    this.slot = slots(this.el);
    this.slot["user-text"].textContent = userText;
    this.slot.effort.textContent = `${effort} effort`;
    this.slot.effort.dataset.effort = effort;
    if (regeneratedFrom) {
      this.slot.origin.hidden = false;
      this.slot.origin.textContent = "regenerated";
    }
    this.wire();
    this.clear();
  }

  wire() {
    this.slot.stop.addEventListener("click", () => {
      if (this.turnId !== null) {
        this.stopping = true;
        this.render();
        this.actions.cancel(this);
      }
    });
    for (const effort of this.efforts) {
      this.slot["regen-effort"].append(new Option(`${effort[0].toUpperCase()}${effort.slice(1)} effort`, effort));
    }
    this.slot["regen-button"].addEventListener("click", () =>
      this.actions.regenerate(this, this.slot["regen-effort"].value));
    this.slot.compare.addEventListener("click", () => this.actions.compare(this));
    for (const button of this.slot.copy.querySelectorAll("[data-copy]")) {
      button.addEventListener("click", () => this.copyCode(button.dataset.copy));
    }
    this.slot.copy.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || !this.slot.copy.open) return;
      this.slot.copy.open = false;
      this.slot.copy.querySelector("summary").focus();
    });
    const analysis = this.slot.analysis;
    analysis.addEventListener("toggle", () => {
      if (analysis.open !== this.analysisWanted) this.analysisAuto = false; // the user chose
    });
  }

  // Forget everything the frames said (used before replaying a turn's stored frames).
  clear() {
    this.status = this.turnId === null ? "sending" : "queued";
    this.phase = null;
    this.stopping = false;
    this.notice = null;
    this.queuePosition = null;
    this.workers = null;
    this.messages = new Map(); // index -> {role, channel, recipient, text, tokens, done, node}
    this.callsByIndex = new Map();
    this.callsById = new Map();
    this.metrics = null;
    this.error = null;
    this.lint = null;
    this.model = null;
    this.analysisAuto = true;
    this.analysisWanted = false;
    this.finalDirty = new Set();
    for (const name of ["analysis-body", "tools-body", "final-body"]) this.slot[name].replaceChildren();
    this.slot.analysis.hidden = true;
    this.slot.tools.hidden = true;
    this.slot.metrics.hidden = true;
    this.slot.metrics.replaceChildren();
    this.slot.error.hidden = true;
    this.slot.model.textContent = "";
    this.drawLint();
    this.render();
  }

  get done() {
    return DONE.has(this.status);
  }

  applyAll(frames) {
    for (const frame of frames) this.apply(frame);
  }

  apply(frame) {
    this.lastFrameAt = Date.now();
    const handler = this[`on_${frame.type.replace(".", "_")}`];
    if (handler) handler.call(this, frame);
    this.render();
  }

  advance(status) {
    if (this.done) return; // a finished turn never goes back to running
    if (DONE.has(status) || STAGE[status] >= STAGE[this.status] || this.status === "awaiting") {
      this.status = status;
    }
  }

  on_turn_queued(frame) {
    this.turnId = frame.turn_id;
    this.el.dataset.turnId = frame.turn_id;
    if (this.status === "sending" || this.status === "queued") {
      this.queuePosition = frame.queue_position;
      this.workers = frame.workers ?? null;
    }
    this.advance("queued");
  }

  on_turn_started(frame) {
    this.model = frame.model;
    this.slot.model.textContent = [frame.model, frame.device].filter(Boolean).join(" · ");
    this.advance("running");
    if (!this.phase) this.phase = "prefill";
  }

  on_message_start(frame) {
    const previous = this.messages.get(frame.index);
    if (previous) previous.node?.remove();
    const message = {
      index: frame.index, role: frame.role, channel: frame.channel, recipient: frame.recipient,
      author: frame.author ?? null, text: "", tokens: null,
      done: false, node: null,
    };
    message.pane = paneOf(message);
    this.messages.set(frame.index, message);
    this.advance("running");
    this.placeMessage(message);
  }

  on_message_delta(frame) {
    const message = this.messages.get(frame.index);
    if (!message) return; // its start was never seen; the stored copy will have it
    message.text += frame.text;
    this.showText(message, frame.text);
  }

  on_message_end(frame) {
    const message = this.messages.get(frame.index);
    if (!message) return;
    message.done = true;
    message.tokens = frame.tokens;
    if (message.pane === "final") this.finalDirty.add(message);
  }

  on_tool_call(frame) {
    let call = this.callsByIndex.get(frame.index);
    if (!call) call = this.newCall(frame.index, frame.name);
    call.id = frame.call_id;
    call.name = frame.name;
    call.arguments = frame.arguments;
    this.callsById.set(frame.call_id, call);
    this.phase = "tool";
    this.phaseTool = frame.name;
    this.drawCall(call);
  }

  on_tool_result(frame) {
    const call = this.findCall(frame.call_id, frame.name);
    call.output = frame.output;
    call.ms = frame.ms;
    call.awaiting = false;
    this.drawCall(call);
  }

  on_tool_awaiting(frame) {
    const call = this.findCall(frame.call_id, frame.name);
    call.awaiting = !call.sent;
    if (frame.arguments !== undefined) call.arguments = frame.arguments;
    this.drawCall(call);
    if (call.awaiting) this.advance("awaiting");
  }

  on_turn_done(frame) {
    this.advance(frame.status);
    this.metrics = frame.metrics;
    this.error = frame.error;
    this.lint = Array.isArray(frame.lint) ? frame.lint : null;
    if (frame.metrics?.model && !this.model) {
      this.slot.model.textContent = [frame.metrics.model, frame.metrics.device].filter(Boolean).join(" · ");
    }
    for (const call of this.callsByIndex.values()) {
      if (call.awaiting) { call.awaiting = false; this.drawCall(call); }
    }
    for (const message of this.messages.values()) if (message.pane === "final") this.finalDirty.add(message);
    this.drawMetrics();
    this.drawLint();
  }

  on_error(frame) {
    // A refused frame. Before the turn exists, the turn itself was refused.
    if (this.turnId === null) {
      this.status = "failed";
      this.error = { code: frame.code, message: frame.message };
    } else if (!this.done) { // e.g. a stop that crossed the turn's end: nothing to show then
      this.notice = frame.message;
      this.stopping = false;
    }
  }

  // ---- messages into panes ----

  placeMessage(message) {
    const s = this.slot;
    if (message.pane === "analysis") {
      message.node = document.createElement("div");
      message.node.className = "analysis-msg";
      message.textNode = document.createTextNode("");
      message.node.append(message.textNode);
      s["analysis-body"].append(message.node);
      s.analysis.hidden = false;
      this.phase = "analysis";
      if (this.analysisAuto) this.setAnalysisOpen(true);
    } else if (message.pane === "tool-call") {
      const call = this.newCall(message.index, toolNameOf(message.recipient));
      message.node = call.node;
      this.phase = "tool";
      this.phaseTool = call.name;
    } else if (message.pane === "tool-output") {
      message.call = this.findCall(null, toolNameOf(message.author), true);
      if (message.call) {
        if (message.call.output === null || message.call.sent) message.call.outputFromMessage = true;
        message.call.awaiting = false; // answered: the turn goes on
        this.drawCall(message.call);
      }
    } else if (message.pane === "preamble") {
      message.node = document.createElement("p");
      message.node.className = "preamble";
      s["tools-body"].append(message.node);
      s.tools.hidden = false;
    } else {
      message.node = document.createElement("div");
      message.node.className = message.pane === "unparsed" ? "unparsed" : "final-msg";
      if (message.pane === "unparsed") {
        const label = document.createElement("div");
        label.className = "unparsed-label";
        label.textContent = "Output the parser could not place";
        message.pre = document.createElement("pre");
        message.node.append(label, message.pre);
      }
      s["final-body"].append(message.node);
      if (message.pane === "final") {
        this.phase = "final";
        if (this.analysisAuto) this.setAnalysisOpen(false);
      }
    }
  }

  showText(message, delta) {
    switch (message.pane) {
      case "analysis": {
        const body = this.slot["analysis-body"];
        const following = body.scrollHeight - body.scrollTop - body.clientHeight < 24;
        message.textNode.appendData(delta);
        if (following) body.scrollTop = body.scrollHeight;
        break;
      }
      case "tool-call": {
        const call = this.callsByIndex.get(message.index);
        call.rawArguments = message.text;
        this.drawCall(call);
        break;
      }
      case "tool-output":
        if (message.call && message.call.outputFromMessage) {
          message.call.output = message.text;
          this.drawCall(message.call);
        }
        break;
      case "preamble":
        message.node.textContent = message.text;
        break;
      case "unparsed":
        message.pre.textContent = message.text;
        break;
      default:
        this.finalDirty.add(message);
    }
  }

  setAnalysisOpen(open) {
    this.analysisWanted = open;
    this.slot.analysis.open = open;
  }

  // ---- tool calls ----

  newCall(index, name) {
    const node = fromTemplate("tool-call-template");
    const call = {
      index, id: null, name, arguments: undefined, rawArguments: "", output: null, ms: null,
      awaiting: false, sent: false, outputFromMessage: false, node, slot: slots(node),
    };
    call.slot.await.addEventListener("submit", (event) => {
      event.preventDefault();
      const output = call.slot["await-text"].value;
      call.sent = true;
      call.awaiting = false;
      call.output = output;
      call.outputFromMessage = true;
      this.actions.toolOutput(this, call.id, output);
      this.status = "running";
      this.phase = "prefill";
      this.drawCall(call);
      this.render();
    });
    this.callsByIndex.set(index, call);
    this.slot["tools-body"].append(node);
    this.slot.tools.hidden = false;
    this.drawCall(call);
    return call;
  }

  findCall(callId, name, quiet = false) {
    if (callId && this.callsById.has(callId)) return this.callsById.get(callId);
    const open = [...this.callsByIndex.values()].filter((c) => c.output === null || c.outputFromMessage);
    const match = open.reverse().find((c) => c.name === name);
    if (match) {
      if (callId && !match.id) { match.id = callId; this.callsById.set(callId, match); }
      return match;
    }
    if (quiet) return null;
    const call = this.newCall(`call:${callId}`, name);
    call.id = callId;
    this.callsById.set(callId, call);
    return call;
  }

  drawCall(call) {
    const s = call.slot;
    s.name.textContent = call.name;
    s.arguments.textContent = call.arguments !== undefined ? pretty(call.arguments) : call.rawArguments;
    const hasOutput = call.output !== null;
    s.output.hidden = s["output-label"].hidden = !hasOutput;
    if (hasOutput) s.output.textContent = call.output;
    s.ms.textContent = call.ms !== null && call.ms !== undefined ? fmt.ms(call.ms) : "";
    s.await.hidden = !call.awaiting;
    let state = "running";
    if (call.awaiting) state = "awaiting";
    else if (hasOutput) state = call.sent || (call.outputFromMessage && call.ms === null) ? "answered" : "done";
    else if (this.done) state = "no result";
    call.node.dataset.state = state;
    s.state.textContent = { running: "calling…", awaiting: "needs your output", answered: "answered by you", done: "", "no result": "no result" }[state];
  }

  // ---- chrome: status chip, placeholder, actions, metrics ----

  statusText() {
    if (this.done) return DONE_TEXT[this.status];
    if (this.status === "sending") return "Sending…";
    if (this.status === "awaiting") return "Waiting for your tool output";
    if (this.status === "queued") {
      const waitingFor = workerWait(this.workers);
      if (waitingFor) return `Queued · ${waitingFor}`;
      if (this.queuePosition === null || this.queuePosition === undefined) return "Queued";
      return this.queuePosition > 0 ? `Queued · ${this.queuePosition} ahead` : "Queued · next";
    }
    return {
      prefill: "Reading the prompt…",
      analysis: "Thinking…",
      tool: `Calling ${this.phaseTool ?? "a tool"}…`,
      final: "Answering…",
    }[this.phase] ?? "Running";
  }

  render() {
    const s = this.slot;
    this.el.dataset.status = this.status;
    s.status.dataset.status = this.status;
    s["status-text"].textContent = this.statusText();
    s.stop.hidden = this.done;
    s.stop.disabled = this.turnId === null || this.stopping;
    s["stop-text"].textContent = this.stopping ? "Stopping…" : "Stop";
    s.regen.hidden = !this.done || !this.actions.regenerate;
    s.compare.hidden = !this.done || !this.actions.compare;
    s.tokens.hidden = s.copy.hidden = !this.done || this.turnId === null;
    if (!s.tokens.hidden) s.tokens.href = `/turns/${this.turnId}/tokens/`; // its harmony token timeline
    if (!s.regen.hidden && !s["regen-effort"].dataset.chosen) {
      s["regen-effort"].value = this.effort === "high" ? "low" : this.effort === "low" ? "medium" : "high";
      s["regen-effort"].dataset.chosen = "1";
    }
    if (this.done && this.analysisAuto) {
      // the thinking folds away once there is an answer to read; without one it stays open
      this.setAnalysisOpen(!this.hasFinal());
      this.analysisAuto = false;
    }
    this.drawPaneMeta();
    this.drawError();
    if (this.finalDirty.size && !this.frameRequested) {
      this.frameRequested = true;
      requestAnimationFrame(() => this.flushFinal());
    }
    const hasFinal = this.hasFinal();
    s["final-placeholder"].hidden = hasFinal;
    s["final-placeholder"].textContent = FINAL_PLACEHOLDER[this.status] ?? "";
    s["final-placeholder"].classList.toggle("working", !this.done && this.status !== "awaiting");
    s.final.dataset.empty = hasFinal ? "false" : "true";
  }

  // Copy as code (copy_code.js): the prompt of the turn's last generation, as text or Python.
  async copyCode(which) {
    const note = this.slot["copy-note"];
    this.slot.copy.open = false;
    try {
      await copyTurnCode(this.turnId, which);
      note.textContent = which === "prompt" ? "Prompt copied" : "Python copied";
    } catch (error) {
      note.textContent = `Not copied: ${error.message}`;
    }
    clearTimeout(this.copyNoteTimer);
    this.copyNoteTimer = setTimeout(() => { note.textContent = ""; }, 4000);
  }

  hasFinal() {
    return [...this.messages.values()].some((m) => m.pane === "final" || m.pane === "unparsed");
  }

  flushFinal() {
    this.frameRequested = false;
    for (const message of this.finalDirty) {
      if (message.pane === "final") renderMarkdown(message.node, message.text);
    }
    this.finalDirty.clear();
  }

  tokensOf(panes) {
    let sum = 0;
    let known = false;
    for (const m of this.messages.values()) {
      if (panes.includes(m.pane) && m.tokens !== null) { sum += m.tokens; known = true; }
    }
    return known ? sum : null;
  }

  drawPaneMeta() {
    const s = this.slot;
    const streaming = (pane) => !this.done && [...this.messages.values()].some((m) => m.pane === pane && !m.done);
    const tokenText = (n) => (n === null ? "" : fmt.plural(n, "token"));
    s["analysis-meta"].textContent = streaming("analysis") ? "streaming…" : tokenText(this.tokensOf(["analysis"]));
    const calls = this.callsByIndex.size;
    s["tools-meta"].textContent = calls ? fmt.plural(calls, "call") : "";
    s["final-meta"].textContent = streaming("final") ? "streaming…" : tokenText(this.tokensOf(["final"]));
  }

  drawError() {
    const s = this.slot;
    const text = this.error ? `${this.error.message}${this.error.code ? ` (${this.error.code})` : ""}` : this.notice;
    s.error.hidden = !text;
    if (text) s.error.textContent = text;
  }

  // The turn's harmony conformance findings (turn.done's `lint`, docs/protocol.md): a badge
  // that opens to their list; nothing when the turn is clean or was not linted.
  drawLint() {
    const s = this.slot;
    const findings = this.lint ?? [];
    s.lint.hidden = findings.length === 0;
    s["lint-text"].textContent = fmt.plural(findings.length, "harmony issue");
    const lines = findings.map((f) => {
      const where = f.index === null || f.index === undefined ? "turn" : `message ${f.index}`;
      return [f.code, `${where}: ${f.message}`];
    });
    s["lint-text"].title = lines.map(([code, text]) => `${code} (${text})`).join("\n");
    s["lint-list"].replaceChildren(...lines.map(([code, text]) => {
      const item = document.createElement("li");
      const name = document.createElement("code");
      name.textContent = code;
      item.append(name, ` ${text}`);
      return item;
    }));
  }

  drawMetrics() {
    const m = this.metrics;
    const s = this.slot;
    if (!m) return;
    const byChannel = m.tokens_by_channel ?? {};
    const items = [
      ["Queue", fmt.ms(m.queue_ms)],
      ["Prefill", fmt.ms(m.prefill_ms)],
      ["TTFT", fmt.ms(m.ttft_ms), null, ttftParts(m)],
      ["To final", fmt.ms(m.time_to_final_ms)],
      ["Total", fmt.ms(m.total_ms)],
      ["Speed", fmt.rate(m.decode_tokens_per_s)],
      ["Tokens in / out", `${fmt.count(m.prompt_tokens)} / ${fmt.count(m.output_tokens)}`],
      ["By channel", null, [
        ["analysis", byChannel.analysis], ["commentary", byChannel.commentary], ["final", byChannel.final],
      ]],
      ["Est. compute", fmt.flops(m.est_flops)],
      ["Tool calls", m.tool_calls && m.tool_ms !== null ? `${m.tool_calls} · ${fmt.ms(m.tool_ms)}` : fmt.count(m.tool_calls ?? null)],
      ["Device", m.device ?? fmt.DASH],
      ["Engine", m.engine ? `${m.engine}${m.turns_running > 1 ? ` · ${m.turns_running} turns at once` : ""}` : fmt.DASH],
      ["Effort", m.effort ?? this.effort],
    ];
    const nodes = [];
    for (const [label, value, channels, title] of items) {
      const item = document.createElement("div");
      item.className = "metric";
      item.dataset.metric = label.toLowerCase().replace(/[^a-z]+/g, "-");
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      if (channels) {
        for (const [channel, n] of channels) {
          const span = document.createElement("span");
          span.className = `tok tok-${channel}`;
          span.title = `${channel} tokens`;
          span.textContent = fmt.count(n ?? null);
          dd.append(span);
        }
      } else {
        dd.textContent = value;
      }
      if (title) item.title = title;
      item.append(dt, dd);
      nodes.push(item);
    }
    s.metrics.replaceChildren(...nodes);
    s.metrics.hidden = false;
  }
}
