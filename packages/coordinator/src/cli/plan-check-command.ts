// `ferry plan --check JOB`: how well the plan the coordinator made before a job predicted
// it, task by task, and how well it predicts the same VMs now it has learned from the job.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { FerryError, type ParsedArgs, type PlanResponse, TaskState } from "@ferry/common";
import { checkPrediction, type PredictionCheck, type TaskTimes } from "../planner/index.js";
import { type Api, json2, out, str } from "./cli-io.js";
import { renderTable } from "./table.js";

const secs = (s: number) => `${s.toFixed(1)} s`;
const pct = (x: number) => (Number.isNaN(x) ? "-" : `${x >= 0 ? "+" : ""}${x.toFixed(0)}%`);
const corr = (x: number) => (Number.isNaN(x) ? "- (all started at once)" : x.toFixed(2));

/** The comparison of a job with the plan before it, and with a plan made now. */
export async function planCheckCommand(api: Api, args: ParsedArgs, json: boolean): Promise<void> {
  const id = str(args, "check");
  const { job } = await api.getJob({ id });
  if (!job) throw new FerryError("NOT_FOUND", `job ${id} not found`);
  if (!job.endedAt)
    throw new FerryError("FAILED_PRECONDITION", `job ${id} has not ended: check it once it has`);
  if (!job.policyId || !job.createdAt)
    throw new FerryError(
      "INVALID_ARGUMENT",
      `job ${id} was not started by a policy that still exists: there is no planned window to compare it with`,
    );
  const ran: TaskTimes[] = job.tasks.flatMap((t) =>
    t.state === TaskState.SUCCEEDED && t.startedAt && t.endedAt
      ? [
          {
            vmId: t.vmId,
            startS: timestampDate(t.startedAt).getTime() / 1000,
            endS: timestampDate(t.endedAt).getTime() / 1000,
          },
        ]
      : [],
  );
  const before = await api.plan({ policyId: job.policyId, historyBefore: job.createdAt });
  const now = await api.plan({ policyId: job.policyId });
  const was = checkPrediction(times(before), ran);
  const is = checkPrediction(times(now), ran);
  if (json) {
    out(json2({ jobId: id, policyId: job.policyId, beforeJob: was, now: is }));
    return;
  }
  out(
    `job ${id}: ${was.tasks.length} succeeded task(s) beside the plan made from the history before the job`,
  );
  out(
    renderTable(
      ["VM", "PREDICTED START", "ACTUAL START", "PREDICTED", "ACTUAL", "ERROR", "NOW PREDICTED"],
      was.tasks.map((t) => [
        t.vmId,
        secs(t.predictedStartS),
        secs(t.actualStartS),
        secs(t.predictedS),
        secs(t.actualS),
        pct(t.errorPct),
        secs(is.tasks.find((x) => x.vmId === t.vmId)?.predictedS ?? Number.NaN),
      ]),
    ),
  );
  if (was.unplanned.length > 0) out(`not in the plan: ${was.unplanned.join(", ")}`);
  out(`prediction error before the job: ${summary(was)}`);
  // In-sample: the plan now has this job's own figures; the next job tells how well it learned.
  out(`prediction error now, from the job's own figures: ${summary(is)}`);
}

function summary(c: PredictionCheck): string {
  return `mean absolute ${Number.isNaN(c.meanAbsErrorPct) ? "-" : `${c.meanAbsErrorPct.toFixed(1)}%`} of the actual durations; start order rank correlation ${corr(c.startRankCorrelation)}`;
}

function times(plan: PlanResponse): TaskTimes[] {
  return plan.tasks.map((t) => ({ vmId: t.vmId, startS: t.startS, endS: t.endS }));
}
