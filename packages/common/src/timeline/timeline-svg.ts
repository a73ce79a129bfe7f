// A backup window as an SVG picture: rows of tasks (per mover or datastore) over time, each
// datastore's backup load and production latency under them, the window's end marked. Pure:
// data in, a string out, no DOM and no Node APIs, so a web console can draw the same picture.
import { areaPath, concurrencySteps, linePoints, stepColumns } from "./step-columns.js";
import { duration, escapeXml, px } from "./svg-text.js";
import type { Timeline, TimelineDatastore, TimelineSvgOptions, TimelineTask } from "./timeline.js";

const LABEL_W = 210;
const RIGHT = 24;
const TICKS_S = [300, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800];

interface Frame {
  x0: number;
  columns: number;
  spanS: number;
  secondsPerColumn: number;
  x: (s: number) => number;
}

/** The timeline as a standalone SVG document (UTF-8 text). */
export function renderTimelineSvg(t: Timeline, options: TimelineSvgOptions = {}): string {
  const width = Math.max(400, Math.round(options.widthPx ?? 1200));
  const endS = t.tasks.reduce((m, x) => Math.max(m, x.endS), 0);
  const spanS = Math.max(1, endS, t.windowS) * 1.03;
  const columns = width - LABEL_W - RIGHT;
  const f: Frame = {
    x0: LABEL_W,
    columns,
    spanS,
    secondsPerColumn: spanS / columns,
    x: (s) => LABEL_W + (s / spanS) * columns,
  };
  const body: string[] = [];
  let y = 28;
  body.push(`<text x="12" y="${y}" class="title">${escapeXml(t.title)}</text>`);
  const summary = `${t.tasks.length} task(s), ends after ${duration(endS)}${t.windowS > 0 ? `, window ${duration(t.windowS)}` : ""}`;
  y += 18;
  body.push(`<text x="12" y="${y}" class="note">${escapeXml(summary)}</text>`);
  for (const n of t.notes ?? []) {
    y += 16;
    body.push(`<text x="12" y="${y}" class="note">${escapeXml(n)}</text>`);
  }
  y += 30;
  const top = y;
  body.push(...axis(f, y));
  y += 8;
  const tasks = taskRows(t, f, y, options);
  body.push(...tasks.svg);
  y = tasks.y + 24;
  const ds = datastoreRows(t, f, y, options);
  body.push(...ds.svg);
  y = ds.y;
  body.push(...marks(t, f, endS, top - 4, y));
  const height = y + 20;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<style>.title{font-size:15px;font-weight:bold}.note{fill:#444}.head{font-weight:bold}.label{fill:#222}.small{fill:#666;font-size:9px}.band{fill:#f4f4f4}.tick{stroke:#ddd}.task{fill:#4a7fc1}.load{fill:#9cc3e6}.latency{fill:none;stroke:#c0392b;stroke-width:1.2}.mark{stroke:#c0392b;stroke-dasharray:2 3;stroke-width:.6}.window-end{stroke:#d35400;stroke-width:2;stroke-dasharray:6 4}.plan-end{stroke:#333;stroke-width:1}</style>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    ...body,
    "</svg>",
    "",
  ].join("\n");
}

function axis(f: Frame, y: number): string[] {
  const step = TICKS_S.find((s) => f.spanS / s <= 12) ?? TICKS_S[TICKS_S.length - 1] ?? 86_400;
  const out = [`<g class="axis">`];
  for (let s = 0; s <= f.spanS; s += step)
    out.push(
      `<text x="${px(f.x(s))}" y="${y - 4}" text-anchor="middle" class="small">${escapeXml(hourLabel(s))}</text>`,
    );
  out.push("</g>");
  return out;
}

const hourLabel = (s: number) =>
  s % 3600 === 0
    ? `${s / 3600} h`
    : `${Math.floor(s / 3600)}:${String((s % 3600) / 60).padStart(2, "0")}`;

// Vertical grid lines are drawn last over the rows' backgrounds: the ticks, the plan's end
// and the window's end.
function marks(t: Timeline, f: Frame, endS: number, y0: number, y1: number): string[] {
  const step = TICKS_S.find((s) => f.spanS / s <= 12) ?? 86_400;
  const out = ['<g class="grid">'];
  for (let s = step; s <= f.spanS; s += step)
    out.push(`<line class="tick" x1="${px(f.x(s))}" x2="${px(f.x(s))}" y1="${y0}" y2="${y1}"/>`);
  out.push("</g>");
  out.push(
    `<line class="plan-end" x1="${px(f.x(endS))}" x2="${px(f.x(endS))}" y1="${y0}" y2="${y1}"><title>${escapeXml(`last task ends after ${duration(endS)}`)}</title></line>`,
  );
  if (t.windowS > 0) {
    const x = px(f.x(t.windowS));
    out.push(
      `<g class="window-end"><line class="window-end" x1="${x}" x2="${x}" y1="${y0 - 10}" y2="${y1}"/><text x="${px(f.x(t.windowS) - 4)}" y="${y0 - 12}" text-anchor="end" fill="#d35400">${escapeXml(`window ends (${duration(t.windowS)})`)}</text></g>`,
    );
  }
  return out;
}

interface Row {
  id: string;
  label: string;
  tasks: TimelineTask[];
}

function taskRows(
  t: Timeline,
  f: Frame,
  y0: number,
  options: TimelineSvgOptions,
): { svg: string[]; y: number } {
  const byRow = new Map<string, TimelineTask[]>();
  for (const task of t.tasks) {
    const list = byRow.get(task.row);
    if (list) list.push(task);
    else byRow.set(task.row, [task]);
  }
  let rows: Row[] = [...byRow].map(([id, tasks]) => ({ id, label: id, tasks }));
  const maxRows = Math.max(2, options.maxRows ?? 40);
  if (rows.length > maxRows) {
    // The rows that end last say when the window ends; the rest are drawn as one.
    const lastEnd = (r: Row) => r.tasks.reduce((m, x) => Math.max(m, x.endS), 0);
    rows.sort((a, b) => lastEnd(b) - lastEnd(a));
    const rest = rows.slice(maxRows - 1);
    rows = rows.slice(0, maxRows - 1);
    rows.push({
      id: "",
      label: `${rest.length} other ${t.rowsBy}s`,
      tasks: rest.flatMap((r) => r.tasks),
    });
  }
  rows.sort((a, b) => (a.id === "" ? 1 : b.id === "" ? -1 : natural(a.id, b.id)));
  const bars = t.tasks.length <= (options.barsUpTo ?? 400);
  const svg = [
    `<text x="12" y="${y0 + 12}" class="head">${escapeXml(`Tasks by ${t.rowsBy} (${bars ? "one bar per task" : "shaded: tasks running at once"})`)}</text>`,
  ];
  let y = y0 + 22;
  rows.forEach((row, i) => {
    const h = bars ? barRow(row, f, y, i, svg) : profileRow(row, f, y, i, svg);
    y += h;
  });
  return { svg, y };
}

function rowStart(row: Row, y: number, h: number, i: number, f: Frame, detail: string): string {
  const bytes = row.tasks.reduce((n, x) => n + (x.bytes ?? 0), 0);
  const title = `${row.label}: ${row.tasks.length} task(s)${bytes > 0 ? `, ${formatBytes(bytes)}` : ""}${detail}`;
  return [
    `<g class="row" data-row="${escapeXml(row.id)}"><title>${escapeXml(title)}</title>`,
    i % 2 === 0
      ? `<rect class="band" x="0" y="${px(y)}" width="${f.x0 + f.columns}" height="${h}"/>`
      : "",
    `<text x="12" y="${px(y + h / 2 + 4)}" class="label">${escapeXml(clip(row.label, 30))}</text>`,
  ].join("");
}

// Each task a bar, in as few lanes as its row needs.
function barRow(row: Row, f: Frame, y: number, i: number, svg: string[]): number {
  const sorted = [...row.tasks].sort((a, b) => a.startS - b.startS || a.endS - b.endS);
  const laneEnds: number[] = [];
  const lanes = sorted.map((task) => {
    let lane = laneEnds.findIndex((end) => end <= task.startS);
    if (lane < 0) lane = laneEnds.push(task.endS) - 1;
    else laneEnds[lane] = task.endS;
    return lane;
  });
  const h = Math.max(16, laneEnds.length * 7 + 4);
  svg.push(rowStart(row, y, h, i, f, ""));
  sorted.forEach((task, k) => {
    const x = f.x(task.startS);
    const w = Math.max(1, f.x(task.endS) - x);
    const label = `${task.id}: ${duration(task.startS)} to ${duration(task.endS)}${task.bytes ? `, ${formatBytes(task.bytes)}` : ""}`;
    svg.push(
      `<rect class="task" x="${px(x)}" y="${px(y + 2 + (lanes[k] as number) * 7)}" width="${px(w)}" height="5"><title>${escapeXml(label)}</title></rect>`,
    );
  });
  svg.push("</g>");
  return h;
}

// Tasks running at once, as a shaded area scaled to the row's peak.
function profileRow(row: Row, f: Frame, y: number, i: number, svg: string[]): number {
  const h = 18;
  const steps = concurrencySteps(row.tasks);
  const peak = steps.reduce((m, s) => Math.max(m, s.value), 0);
  const cols = stepColumns(steps, f.columns, f.secondsPerColumn, f.spanS);
  svg.push(rowStart(row, y, h, i, f, `, at most ${peak} at once`));
  const d = areaPath(cols, f.x0, 1, y + h - 1, h - 3, peak);
  if (d) svg.push(`<path class="task" d="${d}"/>`);
  svg.push("</g>");
  return h;
}

function datastoreRows(
  t: Timeline,
  f: Frame,
  y0: number,
  options: TimelineSvgOptions,
): { svg: string[]; y: number } {
  if (t.datastores.length === 0) return { svg: [], y: y0 };
  const peakLatency = (d: TimelineDatastore) =>
    d.steps.reduce((m, s) => Math.max(m, s.latencyMs), 0);
  const marksMs = t.latencyMarksMs ?? [];
  const maxLatency = Math.max(1, ...t.datastores.map(peakLatency), ...marksMs.map((m) => m * 1.2));
  const maxRows = Math.max(2, options.maxDatastores ?? 24);
  let shown = [...t.datastores];
  let rest: TimelineDatastore[] = [];
  if (shown.length > maxRows) {
    shown.sort((a, b) => peakLatency(b) - peakLatency(a));
    rest = shown.slice(maxRows - 1);
    shown = shown.slice(0, maxRows - 1);
  }
  shown.sort((a, b) => natural(a.id, b.id));
  const svg = [
    `<text x="12" y="${y0 + 12}" class="head">${escapeXml(`Datastores: backup reads (shaded, to each row's peak) and production latency (line, 0 to ${maxLatency.toFixed(0)} ms${marksMs.length > 0 ? `; dashed: ${marksMs.join(" and ")} ms` : ""})`)}</text>`,
  ];
  let y = y0 + 22;
  const h = 30;
  const row = (id: string, label: string, bps: Float64Array, lat: Float64Array, i: number) => {
    const peakBps = bps.reduce((m, v) => Math.max(m, v), 0);
    const peakMs = lat.reduce((m, v) => Math.max(m, v), 0);
    const title = `${label}: peak ${formatBytes(peakBps)}/s of backup reads, peak latency ${peakMs.toFixed(1)} ms`;
    svg.push(
      `<g class="datastore" data-datastore="${escapeXml(id)}"><title>${escapeXml(title)}</title>`,
      i % 2 === 0
        ? `<rect class="band" x="0" y="${y}" width="${f.x0 + f.columns}" height="${h}"/>`
        : "",
      `<text x="12" y="${y + 13}" class="label">${escapeXml(clip(label, 30))}</text>`,
      `<text x="12" y="${y + 25}" class="small">${escapeXml(`${formatBytes(peakBps)}/s, ${peakMs.toFixed(1)} ms peak`)}</text>`,
    );
    const d = areaPath(bps, f.x0, 1, y + h - 2, h - 6, peakBps);
    if (d) svg.push(`<path class="load" d="${d}"/>`);
    for (const m of marksMs) {
      const my = px(y + h - 2 - (Math.min(m, maxLatency) / maxLatency) * (h - 6));
      svg.push(`<line class="mark" x1="${f.x0}" x2="${f.x0 + f.columns}" y1="${my}" y2="${my}"/>`);
    }
    const points = linePoints(lat, f.x0, 1, y + h - 2, h - 6, maxLatency);
    if (points) svg.push(`<polyline class="latency" points="${points}"/>`);
    svg.push("</g>");
    y += h;
  };
  const columnsOf = (d: TimelineDatastore, value: "bytesPerSec" | "latencyMs") =>
    stepColumns(
      d.steps.map((s) => ({ atS: s.atS, value: s[value] })),
      f.columns,
      f.secondsPerColumn,
      f.spanS,
    );
  for (const [i, d] of shown.entries())
    row(d.id, d.id, columnsOf(d, "bytesPerSec"), columnsOf(d, "latencyMs"), i);
  if (rest.length > 0) {
    // The others together: their reads summed, their worst latency.
    const bps = new Float64Array(f.columns);
    const lat = new Float64Array(f.columns);
    for (const d of rest) {
      const b = columnsOf(d, "bytesPerSec");
      const l = columnsOf(d, "latencyMs");
      for (let c = 0; c < f.columns; c++) {
        bps[c] = (bps[c] as number) + (b[c] as number);
        lat[c] = Math.max(lat[c] as number, l[c] as number);
      }
    }
    row("", `${rest.length} other datastores`, bps, lat, shown.length);
  }
  return { svg, y };
}

const collator = new Intl.Collator("en", { numeric: true });
const natural = (a: string, b: string) => collator.compare(a, b);
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v >= 100 || u === 0 ? 0 : 1)} ${units[u]}`;
}
