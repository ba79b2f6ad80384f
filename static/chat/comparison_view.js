// An effort comparison on screen: the prompt once, then one column per effort, each a
// TurnView of its own turn (driven by that turn's frames, live or stored, exactly as a lone
// turn is), and under them a summary that follows the columns: tokens per channel, time to
// final, total time, estimated compute as bars, and whether the final answers agree.

import { agreement } from "./agreement.js";
import * as fmt from "./format.js";
import { TurnView, fromTemplate, slots } from "./turn_view.js";

const CHANNELS = ["analysis", "commentary", "final"];
const PANES = { analysis: ["analysis"], commentary: ["tool-call", "preamble"], final: ["final"] };

function cell(tag, text, className) {
  const node = document.createElement(tag);
  node.textContent = text;
  if (className) node.className = className;
  return node;
}

// One bar row: the effort, its bar (segments of [name, value]) scaled to `max`, the figure.
function barRow(effort, segments, max, figure) {
  const row = cell("div", "", "bar-row");
  row.dataset.effort = effort;
  const track = cell("div", "", "bar-track");
  track.setAttribute("aria-hidden", "true");
  for (const [name, value] of segments) {
    const part = cell("span", "", `bar bar-${name}`);
    part.style.width = `${max > 0 ? (100 * (value ?? 0)) / max : 0}%`;
    track.append(part);
  }
  row.append(cell("span", effort, "bar-label"), track, cell("span", figure, "bar-figure"));
  return row;
}

export class ComparisonView {
  // actions: as TurnView's, for the columns (cancel, toolOutput)
  constructor({ userText, settings = {}, comparisonId = null, requestId = null, sourceTurnId = null,
                efforts = ["low", "medium", "high"], actions }) {
    this.userText = userText;
    this.comparisonId = comparisonId;
    this.requestId = requestId;
    this.efforts = efforts;
    this.el = fromTemplate("comparison-template");
    this.slot = slots(this.el);
    this.slot["user-text"].textContent = userText;
    if (sourceTurnId !== null) {
      this.slot.origin.hidden = false;
      this.slot.origin.textContent = "of an earlier message";
    }
    this.views = new Map();
    for (const effort of efforts) {
      const view = new TurnView({ userText, effort, settings, requestId, efforts, actions });
      view.comparison = this;
      const column = cell("div", "", "comparison-column");
      column.dataset.effort = effort;
      column.append(view.el);
      this.slot.columns.append(column);
      this.views.set(effort, view);
    }
    this.setComparisonId(comparisonId);
    this.update();
  }

  setComparisonId(id) {
    this.comparisonId = id;
    if (id !== null) this.el.dataset.comparisonId = id;
  }

  // The column a turn.queued of this comparison belongs to.
  claim(frame) {
    this.setComparisonId(frame.comparison_id);
    return this.views.get(frame.effort);
  }

  // The turn.compare itself was refused: every column not yet queued shows why.
  refuse(frame) {
    for (const view of this.views.values()) if (view.turnId === null) view.apply(frame);
    this.update();
  }

  // Redraw the summary once per animation frame, however many frames arrived.
  update() {
    if (this.drawRequested) return;
    this.drawRequested = true;
    requestAnimationFrame(() => {
      this.drawRequested = false;
      this.draw();
    });
  }

  figures(view) {
    const m = view.metrics;
    const byChannel = Object.fromEntries(CHANNELS.map((c) => [c,
      m?.tokens_by_channel?.[c] ?? view.tokensOf(PANES[c])]));
    return { byChannel, toFinal: m?.time_to_final_ms ?? null, total: m?.total_ms ?? null, flops: m?.est_flops ?? null };
  }

  finalText(view) {
    const parts = [...view.messages.values()].filter((m) => m.pane === "final").map((m) => m.text);
    return parts.length ? parts.join("\n") : null;
  }

  draw() {
    const views = [...this.views.values()];
    const done = views.filter((v) => v.done).length;
    const all = views.length;
    this.el.dataset.state = done === all ? "done" : "running";
    this.slot.state.textContent = done === all ? `All ${all} efforts done` : `${done} of ${all} done`;
    const figures = new Map(views.map((v) => [v.effort, this.figures(v)]));

    this.slot.rows.replaceChildren(...views.map((view) => {
      const f = figures.get(view.effort);
      const row = document.createElement("tr");
      row.dataset.effort = view.effort;
      const head = cell("th", view.effort);
      head.scope = "row";
      row.append(head, ...CHANNELS.map((c) => cell("td", fmt.count(f.byChannel[c] ?? null))),
        cell("td", fmt.ms(f.toFinal)), cell("td", fmt.ms(f.total)), cell("td", fmt.flops(f.flops)));
      return row;
    }));

    const tokens = (f) => CHANNELS.reduce((sum, c) => sum + (f.byChannel[c] ?? 0), 0);
    const maxTokens = Math.max(0, ...[...figures.values()].map(tokens));
    this.slot["token-bars"].replaceChildren(...views.map((view) => {
      const f = figures.get(view.effort);
      return barRow(view.effort, CHANNELS.map((c) => [c, f.byChannel[c]]), maxTokens,
        fmt.plural(tokens(f), "token"));
    }));
    const maxFlops = Math.max(0, ...[...figures.values()].map((f) => f.flops ?? 0));
    this.slot["flops-bars"].replaceChildren(...views.map((view) => {
      const f = figures.get(view.effort);
      return barRow(view.effort, [["flops", f.flops]], maxFlops, fmt.flops(f.flops));
    }));

    this.slot.agreement.replaceChildren(...this.agreementText(views, done === all));
  }

  agreementText(views, allDone) {
    if (!allDone) return [cell("span", "Agreement is checked when every effort has answered.")];
    const verdict = agreement(Object.fromEntries(views.map((v) => [v.effort, this.finalText(v)])));
    this.el.dataset.agreement = verdict === null ? "unknown" : verdict.agree ? "agree" : "differ";
    if (verdict === null) return [cell("strong", "No agreement to check"), cell("span", ": fewer than two efforts gave a final answer.")];
    const rule = verdict.rule === "last number" ? "same last number" : "same text once normalised";
    const missing = verdict.missing.length ? ` (${verdict.missing.join(", ")}: no final answer)` : "";
    if (verdict.agree) {
      const value = Object.values(verdict.values)[0];
      const shown = verdict.rule === "last number" ? ` on ${value}` : "";
      return [cell("strong", `The final answers agree${shown}`), cell("span", ` — compared by ${rule}${missing}.`)];
    }
    const each = Object.entries(verdict.values).map(([effort, value]) =>
      `${effort}: ${verdict.rule === "last number" ? value : `“${value.length > 40 ? `${value.slice(0, 39)}…` : value}”`}`);
    return [cell("strong", "The final answers differ"), cell("span", ` — compared by ${rule}: ${each.join("; ")}${missing}.`)];
  }
}
