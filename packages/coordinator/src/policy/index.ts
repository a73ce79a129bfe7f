// Public surface of the coordinator's backup-policy logic: pure functions of
// their inputs; the caller supplies `now`.

export { CRON_SEARCH_YEARS, type CronFields, type CronSchedule, parseCron } from "./cron.js";
export { compileGlob, type GlobMatcher } from "./glob.js";
export { assertTimeZone } from "./time-zone.js";
export {
  POLICY_DEFAULTS,
  type PolicyInput,
  type QuiesceModeName,
  type TransportName,
  type ValidPolicy,
  validatePolicy,
} from "./validate-policy.js";
export {
  compileVmSelector,
  matchesPolicy,
  type SelectableVm,
  selectVms,
  type VmSelector,
} from "./vm-selector.js";
export {
  type BackupWindow,
  isAllDay,
  isInWindow,
  parseTimeOfDay,
  parseWindow,
  windowEnd,
} from "./window.js";
