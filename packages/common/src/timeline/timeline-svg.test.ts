import { describe, expect, it } from "vitest";
import { concurrencySteps, stepColumns } from "./step-columns.js";
import type { Timeline, TimelineTask } from "./timeline.js";
import { renderTimelineSvg } from "./timeline-svg.js";

const count = (svg: string, re: RegExp) => svg.match(re)?.length ?? 0;

/** Every element opened is closed: the document nests. */
function expectBalanced(svg: string): void {
  for (const tag of ["g", "text", "title", "svg"]) {
    const opened = count(svg, new RegExp(`<${tag}[ >]`, "g"));
    expect(count(svg, new RegExp(`</${tag}>`, "g")), tag).toBe(opened);
  }
}

const small: Timeline = {
  title: "nightly <plan> & co",
  rowsBy: "mover",
  tasks: [
    { id: 'vm-"1"<script>', row: "mover-a", startS: 0, endS: 3600, bytes: 2 ** 40 },
    { id: "vm-2", row: "mover-a", startS: 0, endS: 1800 },
    { id: "vm-3", row: "mover-a", startS: 1800, endS: 5400 },
    { id: "vm-4", row: "mover-b&c", startS: 600, endS: 9000 },
  ],
  datastores: [
    {
      id: "ds-1",
      steps: [
        { atS: 0, tasks: 2, bytesPerSec: 4e8, latencyMs: 12 },
        { atS: 3600, tasks: 1, bytesPerSec: 2e8, latencyMs: 6 },
        { atS: 9000, tasks: 0, bytesPerSec: 0, latencyMs: 3 },
      ],
    },
  ],
  windowS: 8 * 3600,
  notes: ["lower bound 2.50 h (datastore ds-1 throughput)"],
  latencyMarksMs: [20, 30],
};

describe("renderTimelineSvg", () => {
  it("draws each task of a small window as a bar in its mover's row, in as few lanes as needed", () => {
    const svg = renderTimelineSvg(small);
    expect(svg.startsWith("<svg xmlns=")).toBe(true);
    expectBalanced(svg);
    expect(count(svg, /<rect class="task"/g)).toBe(4);
    expect(count(svg, /<g class="row"/g)).toBe(2);
    // mover-a runs 3 tasks but never more than 2 at once: 2 lanes, y 2 and 9 px into the row.
    const ys = [...svg.matchAll(/<rect class="task" x="[\d.]+" y="([\d.]+)"/g)].map((m) =>
      Number(m[1]),
    );
    expect(new Set(ys.slice(0, 3)).size).toBe(2);
    expect(svg).toContain("window ends (8.00 h)");
    expect(svg).toContain("lower bound 2.50 h (datastore ds-1 throughput)");
    expect(count(svg, /<g class="datastore"/g)).toBe(1);
    expect(count(svg, /<line class="mark"/g)).toBe(2);
  });

  it("escapes every name it prints", () => {
    const svg = renderTimelineSvg(small);
    expect(svg).not.toContain("<script>");
    expect(svg).not.toContain("<plan>");
    expect(svg).toContain("vm-&quot;1&quot;&lt;script&gt;");
    expect(svg).toContain('data-row="mover-b&amp;c"');
    expect(svg).toContain("nightly &lt;plan&gt; &amp; co");
  });

  it("marks the window's end where it falls on the time axis", () => {
    const svg = renderTimelineSvg({ ...small, windowS: 4 * 3600 }, { widthPx: 1234 });
    // The axis spans the later of the last end (9000 s) and the window, plus 3%.
    const x = 210 + ((4 * 3600) / (4 * 3600 * 1.03)) * (1234 - 210 - 24);
    const drawn = Number(svg.match(/<line class="window-end" x1="([\d.]+)"/)?.[1]);
    expect(drawn).toBeCloseTo(x, 0);
    expect(renderTimelineSvg({ ...small, windowS: 0 })).not.toContain("window ends");
  });

  it("stays readable at 10,000 tasks: grouped rows, no bar per task, a bounded size", () => {
    const tasks: TimelineTask[] = [];
    for (let i = 0; i < 10_000; i++) {
      const startS = (i % 200) * 120;
      tasks.push({
        id: `vm-${i}`,
        row: `mover-${i % 60}`,
        startS,
        endS: startS + 600 + (i % 7) * 300,
      });
    }
    const datastores = Array.from({ length: 500 }, (_, d) => ({
      id: `ds-${d}`,
      steps: [
        { atS: 0, tasks: 2, bytesPerSec: 1e8 * (1 + (d % 5)), latencyMs: 4 + (d % 37) },
        { atS: 20_000 + d, tasks: 0, bytesPerSec: 0, latencyMs: 3 },
      ],
    }));
    const svg = renderTimelineSvg({ ...small, tasks, datastores });
    expectBalanced(svg);
    expect(count(svg, /<rect class="task"/g)).toBe(0);
    expect(count(svg, /<g class="row"/g)).toBe(40);
    expect(svg).toContain("21 other movers: 3500 task(s)");
    expect(count(svg, /<g class="datastore"/g)).toBe(24);
    expect(svg).toContain("477 other datastores");
    // The worst datastores get their own rows: latency 40 ms is d % 37 === 36.
    expect(svg).toContain('data-datastore="ds-36"');
    expect(svg.length).toBeLessThan(400_000);
  });
});

describe("stepColumns", () => {
  it("keeps the highest value of each pixel column, so a short peak is not lost", () => {
    const steps = concurrencySteps([
      { startS: 0, endS: 100 },
      { startS: 10, endS: 11 },
      { startS: 11, endS: 12 },
      { startS: 150, endS: 200 },
    ]);
    // Ends and starts at the same instant: 2 at once, never 3.
    expect(Math.max(...steps.map((s) => s.value))).toBe(2);
    expect([...stepColumns(steps, 4, 50, 200)]).toEqual([2, 1, 0, 1]);
  });
});
