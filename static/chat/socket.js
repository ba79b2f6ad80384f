// The chat WebSocket: reconnects with backoff, pings to notice a dead link, and holds
// frames sent while disconnected until the socket is open again.

const PING_EVERY_MS = 20000;
const PONG_WITHIN_MS = 10000;
const MAX_BACKOFF_MS = 8000;
// The server's close code for a socket whose session ended (docs/protocol.md, "Closing"):
// reconnecting would be refused, so the page hands over to onSessionEnd instead.
export const SESSION_ENDED = 4401;

export class ChatSocket {
  // onFrame(frame); onState(state, {attempt}) with state "connecting" | "open" | "reconnecting"
  // onReopen() after a reconnect (not the first open): the page catches up from the database
  // onSessionEnd() when the server closed the socket because the session ended; no reconnect
  constructor(url, { onFrame, onState, onReopen, onSessionEnd }) {
    this.url = url;
    this.onFrame = onFrame;
    this.onState = onState;
    this.onReopen = onReopen;
    this.onSessionEnd = onSessionEnd;
    this.ended = false;
    this.outbox = [];
    this.attempt = 0;
    this.everOpened = false;
    this.connect();
    window.addEventListener("online", () => this.retryNow());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.retryNow();
    });
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.onState(this.everOpened ? "reconnecting" : "connecting", { attempt: this.attempt });
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.attempt = 0;
      const reopened = this.everOpened;
      this.everOpened = true;
      this.onState("open", {});
      for (const frame of this.outbox.splice(0)) ws.send(JSON.stringify(frame));
      this.startPings();
      if (reopened) this.onReopen();
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return; // not a protocol frame; nothing to show
      }
      if (frame.type === "pong") {
        clearTimeout(this.pongTimer);
        return;
      }
      this.onFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.stopPings();
      if (event.code === SESSION_ENDED) {
        this.ended = true;
        this.onState("ended", {});
        this.onSessionEnd?.();
        return;
      }
      this.scheduleRetry();
    });
  }

  scheduleRetry() {
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt += 1;
    this.onState("reconnecting", { attempt: this.attempt });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  retryNow() {
    if (!this.ended && this.ws && this.ws.readyState === WebSocket.CLOSED) this.connect();
  }

  startPings() {
    this.stopPings();
    this.pingTimer = setInterval(() => {
      if (this.ws.readyState !== WebSocket.OPEN) return;
      this.ws.send(JSON.stringify({ type: "ping" }));
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => this.ws.close(), PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  stopPings() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }

  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
    else this.outbox.push(frame);
  }
}
