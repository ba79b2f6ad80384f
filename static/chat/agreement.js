// Do the final answers of a comparison agree? Two rules, and the verdict says which one it
// used: when every answer contains a number, the answers agree if their last numbers are equal
// (models wrap the same result in different words: "408." vs "12 × 34 = 408"); otherwise they
// agree if their texts are equal once normalised (case, whitespace, Markdown emphasis and
// trailing punctuation ignored).

const NUMBER = /-?\d[\d,]*(?:\.\d+)?/g;

export function lastNumber(text) {
  const found = text.match(NUMBER);
  if (!found) return null;
  const value = Number(found[found.length - 1].replace(/,/g, ""));
  return Number.isFinite(value) ? value : null;
}

export function normalised(text) {
  return text.toLowerCase().replace(/[*_`]/g, "").replace(/\s+/g, " ").trim().replace(/[.!?\s]+$/, "");
}

// finals: {effort: final text or null (no final answer)}. Returns null while fewer than two
// answers exist, else {rule: "last number" | "normalised text", agree, values: {effort: shown}}.
export function agreement(finals) {
  const answered = Object.entries(finals).filter(([, text]) => text !== null && text.trim());
  if (answered.length < 2) return null;
  const numbers = answered.map(([, text]) => lastNumber(text));
  const byNumber = numbers.every((n) => n !== null);
  const keys = byNumber ? numbers : answered.map(([, text]) => normalised(text));
  const values = Object.fromEntries(answered.map(([effort], i) => [effort, byNumber ? String(keys[i]) : keys[i]]));
  return {
    rule: byNumber ? "last number" : "normalised text",
    agree: keys.every((k) => k === keys[0]),
    values,
    missing: Object.keys(finals).filter((e) => !answered.some(([a]) => a === e)),
  };
}
