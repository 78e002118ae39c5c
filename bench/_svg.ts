// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The benchmark's results as a bar chart, in plain SVG text (no
 * dependencies): one panel per workload and server, one horizontal bar per
 * client with its req/s, and on each bar a red mark at the req/s of the bare
 * client of the same shape (the ceiling). Panels stand in a grid: a row per
 * workload, a column per server, so the nginx figures sit beside the bench
 * server's on the same scale. Each row of panels has its own scale, drawn on
 * its axis: a new TLS connection per request and a pipelined loopback run
 * differ a hundredfold, and one scale would flatten the first to nothing.
 *
 * @module
 */

/** One bar. */
export interface ChartBar {
  /** The client, as the table names it. */
  label: string;
  /** Requests per second (median), or `NaN` when the row failed. */
  rps: number;
  /** req/s of the bare client of the same shape in the same panel. */
  ceilingRps: number | null;
  /** Whether this bar is a ceiling row itself. */
  ceiling: boolean;
  /** req/s over the built-in fetch's, when known. */
  ratio: number | null;
}

/** One panel: a workload on one server. */
export interface ChartPanel {
  /** The workload: panels of one workload share a row and a scale. */
  workload: string;
  /** The server: panels of one server share a column. */
  server: string;
  /** Its bars, top to bottom. */
  bars: ChartBar[];
}

/** Texts around the chart. */
export interface ChartText {
  /** First line. */
  title: string;
  /** Second line: where and how it was measured. */
  subtitle: string;
}

const MARGIN = 16;
const LABEL_W = 220;
const GAP = 10;
const BAR_W = 330;
const VALUE_W = 160;
const COLUMN_W = LABEL_W + GAP + BAR_W + GAP + VALUE_W + 24;
const BAR_H = 15;
const BAR_GAP = 5;
const FONT = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif";

/** Fill colour by client family, with the legend text. */
const FAMILIES: [prefix: string, fill: string, legend: string][] = [
  ["fetch (built-in)", "#8c96a8", "built-in fetch"],
  ["fetch + HttpClient", "#b7c2d6", "fetch + Deno.HttpClient"],
  ["pooled-fetch", "#e0701b", "pooled-fetch"],
  ["undici", "#7e57c2", "undici Pool"],
  ["bare", "#4d4d4d", "bare Deno.connect client (ceiling)"],
];
const CEILING_MARK = "#d11f1f";

function fillOf(label: string): string {
  for (const [prefix, fill] of FAMILIES) {
    if (label.startsWith(prefix)) return fill;
  }
  return "#999999";
}

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;")
    .replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A round axis maximum at or above `v`: 1, 2, 2.5 or 5 times a power of 10. */
function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (m * p >= v) return m * p;
  }
  return 10 * p;
}

/** `12k`, `2.5k`, `800`. */
function short(v: number): string {
  if (v >= 1000) {
    const k = v / 1000;
    return `${Number.isInteger(k) ? k : k.toFixed(1)}k`;
  }
  return String(Math.round(v));
}

function grouped(v: number): string {
  return Math.round(v).toLocaleString("en-US");
}

/** What {@linkcode panelsOf} needs of a result row. */
export interface ChartRow {
  server: string;
  workload: string;
  client: string;
  ok: boolean;
  rps: number;
  ratio: number | null;
  ceilingRps: number | null;
}

/**
 * Groups result rows into panels: one per workload and server, in order.
 *
 * @param rows The results, as the table lists them.
 * @returns The panels.
 */
export function panelsOf(rows: ChartRow[]): ChartPanel[] {
  const out: ChartPanel[] = [];
  for (const r of rows) {
    const server = r.server === "bench" ? "bench server" : r.server;
    let panel = out.find((p) =>
      p.workload === r.workload && p.server === server
    );
    if (panel === undefined) {
      panel = { workload: r.workload, server, bars: [] };
      out.push(panel);
    }
    panel.bars.push({
      label: r.client,
      rps: r.ok ? r.rps : NaN,
      ceilingRps: r.ceilingRps,
      ceiling: r.client.startsWith("bare"),
      ratio: r.ratio,
    });
  }
  return out;
}

function uniq(values: string[]): string[] {
  return [...new Set(values)];
}

/**
 * Renders the chart.
 *
 * @param panels The panels, in table order.
 * @param text Title and subtitle.
 * @returns The SVG document.
 */
export function barChart(panels: ChartPanel[], text: ChartText): string {
  const servers = uniq(panels.map((p) => p.server));
  const workloads = uniq(panels.map((p) => p.workload));
  const width = MARGIN * 2 + COLUMN_W * servers.length;
  const out: string[] = [];
  const t = (x: number, y: number, s: string, attrs = "") =>
    out.push(
      `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}"${attrs}>${esc(s)}</text>`,
    );

  // Title, subtitle, legend.
  let y = 28;
  t(MARGIN, y, text.title, ' font-size="18" font-weight="bold"');
  y += 20;
  t(MARGIN, y, text.subtitle, ' font-size="12" fill="#555"');
  y += 24;
  let lx = MARGIN;
  for (const [, fill, legend] of FAMILIES) {
    out.push(
      `<rect x="${lx.toFixed(1)}" y="${
        y - 11
      }" width="14" height="14" fill="${fill}"/>`,
    );
    t(lx + 20, y, legend, ' font-size="12"');
    lx += 34 + legend.length * 6.8;
  }
  out.push(
    `<line x1="${(lx + 7).toFixed(1)}" y1="${y - 13}" x2="${
      (lx + 7).toFixed(1)
    }" y2="${y + 5}" stroke="${CEILING_MARK}" stroke-width="2.5"/>`,
  );
  t(lx + 16, y, "ceiling: bare client of the same shape", ' font-size="12"');
  y += 18;
  t(
    MARGIN,
    y,
    "Beside each bar: req/s · × the built-in fetch · % of the ceiling. Each row of panels has its own scale.",
    ' font-size="12" fill="#555"',
  );
  y += 6;

  for (const workload of workloads) {
    const row = panels.filter((p) => p.workload === workload);
    const values = row.flatMap((p) =>
      p.bars.flatMap((b) => [b.rps, b.ceilingRps ?? 0])
    ).filter((v) => Number.isFinite(v));
    const max = niceMax(Math.max(0, ...values));
    const bars = Math.max(...row.map((p) => p.bars.length));
    y += 30;
    const top = y + 8;
    const bottom = top + bars * (BAR_H + BAR_GAP) + BAR_GAP;
    for (const panel of row) {
      const left = MARGIN + COLUMN_W * servers.indexOf(panel.server);
      const barX = left + LABEL_W + GAP;
      const x = (v: number) => barX + (BAR_W * Math.min(v, max)) / max;
      t(
        left,
        y,
        `${workload} · ${panel.server}`,
        ' font-size="14" font-weight="bold"',
      );
      const panelBottom = top + panel.bars.length * (BAR_H + BAR_GAP) +
        BAR_GAP;
      for (let i = 0; i <= 5; i++) {
        const v = (max * i) / 5;
        const gx = x(v).toFixed(1);
        out.push(
          `<line x1="${gx}" y1="${top}" x2="${gx}" y2="${panelBottom}" stroke="${
            i === 0 ? "#888" : "#e3e3e3"
          }" stroke-width="1"/>`,
        );
        t(
          x(v),
          panelBottom + 12,
          short(v),
          ' font-size="10" fill="#666" text-anchor="middle"',
        );
      }
      t(
        barX + BAR_W,
        panelBottom + 24,
        "req/s",
        ' font-size="10" fill="#666" text-anchor="end"',
      );
      let by = top + BAR_GAP;
      for (const bar of panel.bars) {
        const mid = by + BAR_H / 2 + 4;
        t(
          left + LABEL_W,
          mid,
          bar.label,
          ` font-size="12" text-anchor="end"${
            bar.ceiling ? ' font-style="italic"' : ""
          }`,
        );
        if (!Number.isFinite(bar.rps) || bar.rps <= 0) {
          t(barX + 6, mid, "failed", ' font-size="12" fill="#c00"');
        } else {
          const w = Math.max(1, x(bar.rps) - barX).toFixed(1);
          out.push(
            `<rect x="${barX}" y="${by}" width="${w}" height="${BAR_H}" fill="${
              fillOf(bar.label)
            }"><title>${
              esc(`${bar.label}: ${grouped(bar.rps)} req/s`)
            }</title></rect>`,
          );
          const parts = [grouped(bar.rps)];
          if (bar.ratio !== null) parts.push(`${bar.ratio.toFixed(2)}×`);
          if (!bar.ceiling && bar.ceilingRps) {
            parts.push(`${Math.round((100 * bar.rps) / bar.ceilingRps)} %`);
          }
          t(barX + BAR_W + GAP, mid, parts.join(" · "), ' font-size="11"');
        }
        if (!bar.ceiling && bar.ceilingRps) {
          const cx = x(bar.ceilingRps).toFixed(1);
          out.push(
            `<line x1="${cx}" y1="${by - 2}" x2="${cx}" y2="${
              by + BAR_H + 2
            }" stroke="${CEILING_MARK}" stroke-width="2.5"/>`,
          );
        }
        by += BAR_H + BAR_GAP;
      }
    }
    y = bottom + 24;
  }
  y += 16;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="${FONT}">`,
    `<rect width="${width}" height="${y}" fill="#ffffff"/>`,
    ...out,
    "</svg>",
    "",
  ].join("\n");
}
