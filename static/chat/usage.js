// The usage page's charts, drawn with Chart.js (static/vendor/chart.js, loaded before this
// module by a classic script) from the figures the server put in #page-data. Each chart has a
// table of the same figures in the page; the charts are not animated, so what is drawn is
// final at once.

const figures = JSON.parse(document.getElementById("page-data").textContent);
const style = getComputedStyle(document.body); // the page's colours are set on its body class
const colour = (name) => style.getPropertyValue(`--${name}`).trim();
const CHANNEL_COLOURS = { analysis: colour("analysis"), commentary: colour("tools"), final: colour("final") };
const EFFORTS = ["low", "medium", "high"];
const SERIES = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => colour(`series-${n}`));

Chart.defaults.font.family = colour("font");
Chart.defaults.color = colour("muted");
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;

function draw(id, type, labels, datasets, options = {}) {
  const canvas = document.getElementById(id);
  if (!canvas) return; // a figure with no rows has a note instead of a chart
  new Chart(canvas, {
    type,
    data: { labels, datasets },
    options: { plugins: { legend: { display: datasets.length > 1, position: "bottom" } }, ...options },
  });
}

const stacked = { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } };
const perModel = { indexAxis: "y", scales: { x: { stacked: true, beginAtZero: true, ticks: { precision: 0 } }, y: { stacked: true } } };
const sideways = (unit) => ({ indexAxis: "y", scales: { x: { beginAtZero: true, title: { display: true, text: unit } } } });

draw("chart-tokens", "bar", figures.days.map((d) => d.day),
  Object.entries(CHANNEL_COLOURS).map(([channel, backgroundColor]) => ({
    label: channel, backgroundColor, data: figures.days.map((d) => d[channel]),
  })), stacked);

const groups = figures.speed.map((row) => [row.model, row.engine]); // two lines: narrow on a phone
draw("chart-ttft", "bar", groups,
  [{ label: "median TTFT (ms)", backgroundColor: colour("accent"), data: figures.speed.map((r) => r.ttft_ms) }],
  sideways("median time to first token (ms)"));
draw("chart-speed", "bar", groups,
  [{ label: "median decode (tok/s)", backgroundColor: colour("final"), data: figures.speed.map((r) => r.decode_tokens_per_s) }],
  sideways("median decode speed (tokens/s)"));

draw("chart-effort", "bar", figures.efforts.map((row) => row.model),
  EFFORTS.map((effort) => ({
    label: effort, backgroundColor: colour(`effort-${effort}`), data: figures.efforts.map((row) => row[effort]),
  })), perModel);

// Per check, the share of each model's linted turns with a finding of it: models with more
// turns are not drawn longer; the table holds the counts. The legend names the checks even
// when there is one.
const lint = figures.lint;
draw("chart-lint", "bar", lint.rows.map((row) => row.model),
  lint.codes.map((code, i) => ({
    label: code, backgroundColor: SERIES[i % SERIES.length],
    data: lint.rows.map((row) => (row.linted ? Math.round((1000 * row.counts[i]) / row.linted) / 10 : null)),
  })), { ...sideways("linted turns with the finding (%)"), plugins: { legend: { position: "bottom" } } });
