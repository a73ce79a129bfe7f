// The planner: pure planning, lower bounds and what-if simulation of a backup window.
export * from "./estate.js";
export { type FamilyMember, familyMember } from "./estate-family.js";
export { type Discipline, listSchedule } from "./list-schedule.js";
export { type LowerBound, lowerBound } from "./lower-bound.js";
export {
  ALTERNATIVES,
  DEFAULT_VARIANT,
  type PlanVariant,
  TRY_ALTERNATIVES_ABOVE,
} from "./plan-variants.js";
export { type LoadStep, type Plan, type PlannedTask, planWindow } from "./plan-window.js";
export {
  checkPrediction,
  type PredictionCheck,
  type TaskCheck,
  type TaskTimes,
} from "./prediction-check.js";
export {
  backupRateForLatency,
  type DatastoreOutcome,
  datastoreLatencyMs,
  type SimulatedTask,
  type SimulationResult,
  simulateWindow,
} from "./simulate.js";
export { type Start, type StartState, startNext } from "./start-next.js";
export { type SyntheticEstateOptions, syntheticEstate } from "./synthetic-estate.js";
