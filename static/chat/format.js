// Number formatting for the metrics strip. A missing figure (null: it did not apply) is "—".

export const DASH = "—";

export function ms(value) {
  if (value === null || value === undefined) return DASH;
  if (value < 1) return `${value.toFixed(2)} ms`;
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 60000) return `${(value / 1000).toFixed(value < 10000 ? 2 : 1)} s`;
  return `${Math.floor(value / 60000)} min ${Math.round((value % 60000) / 1000)} s`;
}

export function count(value) {
  if (value === null || value === undefined) return DASH;
  return Number(value).toLocaleString("en-US");
}

export function rate(value) {
  if (value === null || value === undefined) return DASH;
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} tok/s`;
}

const SI = [[1e18, "E"], [1e15, "P"], [1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];

export function flops(value) {
  if (value === null || value === undefined) return DASH;
  for (const [scale, prefix] of SI) {
    if (value >= scale) return `${(value / scale).toPrecision(3)} ${prefix}FLOP`;
  }
  return `${value} FLOP`;
}

export function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
