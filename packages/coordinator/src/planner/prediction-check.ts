// How well a plan predicted a job that ran: each task's predicted and actual duration and
// start, the mean absolute error of the durations and the rank correlation of the start
// order. Pure: the caller brings the plan and the job's task times.

/** A task as planned or as it ran: seconds from the window's (job's) start. */
export interface TaskTimes {
  vmId: string;
  startS: number;
  endS: number;
}

/** One task of the job beside its prediction. */
export interface TaskCheck {
  vmId: string;
  predictedStartS: number;
  predictedS: number;
  /** From the job's first start. */
  actualStartS: number;
  actualS: number;
  /** (predicted - actual) / actual, percent; NaN for a task that took no time. */
  errorPct: number;
}

/** The comparison of a plan with the job that ran. */
export interface PredictionCheck {
  /** In the order the job started them. */
  tasks: TaskCheck[];
  /** Mean of |errorPct| over the tasks (NaN when none took time). */
  meanAbsErrorPct: number;
  /**
   * Spearman's rank correlation of predicted and actual start times (ties take their mean
   * rank): 1 is the predicted order, NaN when either side starts everything at once.
   */
  startRankCorrelation: number;
  /** VMs of the job the plan has no task for. */
  unplanned: string[];
}

/** Compares `predicted` (a plan's tasks) with `actual` (the job's ended tasks). */
export function checkPrediction(
  predicted: readonly TaskTimes[],
  actual: readonly TaskTimes[],
): PredictionCheck {
  const planned = new Map(predicted.map((t) => [t.vmId, t]));
  const ran = actual.filter((t) => planned.has(t.vmId)).sort((a, b) => a.startS - b.startS);
  const first = ran[0]?.startS ?? 0;
  const tasks = ran.map((t): TaskCheck => {
    const p = planned.get(t.vmId) as TaskTimes;
    const actualS = t.endS - t.startS;
    const predictedS = p.endS - p.startS;
    return {
      vmId: t.vmId,
      predictedStartS: p.startS,
      predictedS,
      actualStartS: t.startS - first,
      actualS,
      errorPct: actualS > 0 ? ((predictedS - actualS) / actualS) * 100 : Number.NaN,
    };
  });
  const errors = tasks.map((t) => Math.abs(t.errorPct)).filter((e) => !Number.isNaN(e));
  return {
    tasks,
    meanAbsErrorPct: errors.length > 0 ? errors.reduce((a, b) => a + b, 0) / errors.length : NaN,
    startRankCorrelation: pearson(
      ranks(tasks.map((t) => t.predictedStartS)),
      ranks(tasks.map((t) => t.actualStartS)),
    ),
    unplanned: actual.filter((t) => !planned.has(t.vmId)).map((t) => t.vmId),
  };
}

// Ranks from 1, ties sharing their mean rank.
function ranks(xs: readonly number[]): number[] {
  const order = xs.map((_, i) => i).sort((a, b) => (xs[a] as number) - (xs[b] as number));
  const out = new Array<number>(xs.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && xs[order[j + 1] as number] === xs[order[i] as number]) j++;
    for (let k = i; k <= j; k++) out[order[k] as number] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return out;
}

function pearson(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  if (n < 2) return Number.NaN;
  const ma = a.reduce((s, x) => s + x, 0) / n;
  const mb = b.reduce((s, x) => s + x, 0) / n;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    const x = (a[i] as number) - ma;
    const y = (b[i] as number) - mb;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : Number.NaN;
}
