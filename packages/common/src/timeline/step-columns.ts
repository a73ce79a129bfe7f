// A step function over time squeezed into pixel columns: one value per column (the highest
// it reaches there), so a row's drawing stays as wide as the chart however many steps it has.

/** A value that holds from `atS` until the next step. */
export interface Step {
  atS: number;
  value: number;
}

/**
 * Per column of `columns`, the highest value the steps reach in its time span;
 * `secondsPerColumn` maps time to columns, and the last step holds until `untilS`.
 */
export function stepColumns(
  steps: readonly Step[],
  columns: number,
  secondsPerColumn: number,
  untilS: number,
): Float64Array {
  const out = new Float64Array(columns);
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i] as Step;
    const endS = steps[i + 1]?.atS ?? untilS;
    if (endS <= s.atS || s.value <= 0) continue;
    const from = Math.max(0, Math.floor(s.atS / secondsPerColumn));
    // A span ending exactly on a column's edge does not reach into that column.
    const to = Math.min(columns - 1, Math.ceil(endS / secondsPerColumn) - 1);
    for (let c = from; c <= to; c++) if (s.value > (out[c] as number)) out[c] = s.value;
  }
  return out;
}

/** Tasks running over time, from their start and end times. */
export function concurrencySteps(spans: readonly { startS: number; endS: number }[]): Step[] {
  const events: [number, number][] = [];
  for (const t of spans) events.push([t.startS, 1], [t.endS, -1]);
  // Ends before starts at the same instant: a slot handed on is not two tasks at once.
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const steps: Step[] = [];
  let running = 0;
  for (const [at, d] of events) {
    running += d;
    const last = steps[steps.length - 1];
    if (last && last.atS === at) last.value = running;
    else steps.push({ atS: at, value: running });
  }
  return steps;
}

/**
 * An SVG path of the columns as a filled step area over `baseY`, `height` pixels for `max`;
 * empty when every column is 0.
 */
export function areaPath(
  cols: Float64Array,
  x0: number,
  columnPx: number,
  baseY: number,
  height: number,
  max: number,
): string {
  if (max <= 0 || !cols.some((v) => v > 0)) return "";
  const parts = [`M${r(x0)} ${r(baseY)}`];
  let prev = 0;
  for (let c = 0; c < cols.length; c++) {
    const v = Math.min(max, cols[c] as number);
    if (v !== prev) {
      parts.push(`H${r(x0 + c * columnPx)}V${r(baseY - (v / max) * height)}`);
      prev = v;
    }
  }
  parts.push(`H${r(x0 + cols.length * columnPx)}V${r(baseY)}Z`);
  return parts.join("");
}

/** An SVG polyline's points for the columns (a line chart), `height` pixels for `max`. */
export function linePoints(
  cols: Float64Array,
  x0: number,
  columnPx: number,
  baseY: number,
  height: number,
  max: number,
): string {
  const pts: string[] = [];
  let prev = Number.NaN;
  for (let c = 0; c < cols.length; c++) {
    const v = Math.min(max, cols[c] as number);
    if (v === prev && c < cols.length - 1) continue;
    const y = r(baseY - (v / max) * height);
    if (!Number.isNaN(prev))
      pts.push(`${r(x0 + c * columnPx)},${r(baseY - (prev / max) * height)}`);
    pts.push(`${r(x0 + c * columnPx)},${y}`);
    prev = v;
  }
  if (pts.length > 0)
    pts.push(`${r(x0 + cols.length * columnPx)},${r(baseY - (prev / max) * height)}`);
  return pts.join(" ");
}

const r = (n: number) => String(Math.round(n * 10) / 10);
