// Small SVG charts drawn from numbers: bars per day (one or more series side by side), bars per
// category, and a meter of the failed orders a month allows. No library; colours come from the
// stylesheet through class names.

import { h, s } from "./dom.js";

const WIDTH = 720;
const HEIGHT = 220;
const PAD = { left: 40, right: 12, top: 12, bottom: 28 };

function niceMax(value) {
  if (value <= 4) return 4;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return value;
}

/**
 * Bars per day. `labels` are the x values (dates as yyyy-mm-dd), `series` a list of
 * {name, values, cls}; `describe(label, values)` gives each group's tooltip.
 */
export function dailyBars(labels, series, { title, formatLabel = (l) => l.slice(5) } = {}) {
  const max = niceMax(Math.max(0, ...series.flatMap((x) => x.values)));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const groupW = plotW / Math.max(1, labels.length);
  const barW = Math.max(1, (groupW * 0.72) / series.length);
  const y = (v) => PAD.top + plotH - (v / max) * plotH;
  const svg = s("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    class: "chart",
    role: "img",
    "aria-label": title || "",
  });
  for (const tick of [0, max / 2, max]) {
    svg.append(
      s("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(tick), y2: y(tick), class: "grid" }),
      s("text", { x: PAD.left - 6, y: y(tick) + 4, class: "axis", "text-anchor": "end" }, Math.round(tick)),
    );
  }
  const every = Math.ceil(labels.length / 10);
  labels.forEach((label, i) => {
    const x0 = PAD.left + i * groupW + (groupW - barW * series.length) / 2;
    const group = s("g", { class: "bar-group" }, s("title", {}, [label, ...series.map((x) => `${x.name}: ${x.values[i]}`)].join("\n")));
    series.forEach((x, k) => {
      const value = x.values[i] || 0;
      const top = y(value);
      group.append(
        s("rect", {
          x: x0 + k * barW,
          y: value > 0 ? Math.min(top, y(0) - 1) : y(0),
          width: barW,
          height: value > 0 ? Math.max(1, y(0) - top) : 0,
          class: `bar ${x.cls || ""}`,
          rx: Math.min(2, barW / 3),
        }),
      );
    });
    svg.append(group);
    if (i % every === 0 || i === labels.length - 1) {
      svg.append(s("text", { x: PAD.left + (i + 0.5) * groupW, y: HEIGHT - 8, class: "axis", "text-anchor": "middle" }, formatLabel(label)));
    }
  });
  const legend = h(
    "div",
    { class: "legend" },
    series.map((x) => h("span", { class: "legend-item" }, s("svg", { viewBox: "0 0 10 10", class: "swatch" }, s("rect", { width: 10, height: 10, rx: 2, class: `bar ${x.cls || ""}` })), x.name)),
  );
  return h("figure", { class: "chart-figure" }, svg, legend);
}

/** Horizontal bars: rows of {label, value, cls}. */
export function categoryBars(rows) {
  const width = 520;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const rowH = 30;
  const labelW = 110;
  const barMax = width - labelW - 50;
  const svg = s("svg", { viewBox: `0 0 ${width} ${rows.length * rowH + 4}`, class: "chart chart-rows", role: "img" });
  rows.forEach((row, i) => {
    const yTop = i * rowH + 4;
    const width = row.value > 0 ? Math.max(2, (row.value / max) * barMax) : 0;
    svg.append(
      s("text", { x: labelW - 10, y: yTop + 16, class: "axis axis-label", "text-anchor": "end" }, row.label),
      s("rect", { x: labelW, y: yTop + 3, width: barMax, height: 18, rx: 3, class: "track" }),
      s("rect", { x: labelW, y: yTop + 3, width, height: 18, rx: 3, class: `bar ${row.cls || ""}` }),
      s("text", { x: labelW + barMax + 10, y: yTop + 16, class: "axis value" }, row.value),
    );
  });
  return svg;
}

/** `used` of `limit` slots, filled from the left; red once the limit is reached. */
export function limitMeter(used, limit) {
  const gap = 6;
  const cell = (200 - gap * (limit - 1)) / limit;
  const svg = s("svg", { viewBox: "0 0 200 16", class: "meter", role: "img", preserveAspectRatio: "xMinYMid meet", "aria-label": `${used} / ${limit}` });
  for (let i = 0; i < limit; i++) {
    const cls = i < used ? (used >= limit ? "meter-over" : used >= limit - 1 ? "meter-warn" : "meter-used") : "meter-free";
    svg.append(s("rect", { x: i * (cell + gap), y: 0, width: cell, height: 16, rx: 3, class: cls }));
  }
  return svg;
}
