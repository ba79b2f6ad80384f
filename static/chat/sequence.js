// Which of a turn's frames to apply, by their `seq` (docs/protocol.md, "Gaps"): the channel
// layer delivers at most once, so a frame can go missing between a worker and this page. A
// frame past the next expected one means one was lost: the page then follows the turn again
// (turn.subscribe) and redraws it from the catch-up. A frame already applied is a duplicate.
// Frames without `seq` (turn.queued answers, frames rebuilt from the database) always apply;
// turn.queued's `next_seq` says which seq comes next.

export const APPLY = "apply";
export const DUPLICATE = "duplicate";
export const GAP = "gap";

// `state.nextSeq`: the seq of the next frame expected for the turn, null while unknown.
export function sequence(state, frame) {
  if (frame.type === "turn.queued" && Number.isInteger(frame.next_seq)) {
    if (state.nextSeq !== null && state.nextSeq !== undefined && state.nextSeq < frame.next_seq) return GAP;
    state.nextSeq = frame.next_seq;
    return APPLY;
  }
  if (!Number.isInteger(frame.seq)) return APPLY;
  if (state.nextSeq === null || state.nextSeq === undefined) {
    state.nextSeq = frame.seq + 1; // no baseline (an older server): gaps are seen from here on
    return APPLY;
  }
  if (frame.seq < state.nextSeq) return DUPLICATE;
  if (frame.seq > state.nextSeq) return GAP;
  state.nextSeq += 1;
  return APPLY;
}
