// Copy as code: a turn's prompt (that of its last generation) as harmony text or as an
// openai-harmony Python snippet (webapp/chat/turn_timeline.py) onto the clipboard. Used by
// each turn of the chat (turn_view.js) and by the token timeline page (timeline.js).

export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // plain http away from localhost has no clipboard API: the old way, through a selection
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.append(area);
  area.select();
  const done = document.execCommand("copy");
  area.remove();
  if (!done) throw new Error("the browser refused to copy");
}

// which: "prompt" or "python"
export async function copyTurnCode(turnId, which) {
  const response = await fetch(`/api/turns/${turnId}/code/`, { credentials: "same-origin" });
  const kind = response.headers.get("Content-Type") || "";
  if (response.redirected || !kind.startsWith("application/json")) {
    throw new Error("you are signed out: reload the page to sign in again");
  }
  const code = await response.json();
  if (!response.ok) throw new Error(code.error || `the server answered ${response.status}`);
  await copyText(code[which]);
}
