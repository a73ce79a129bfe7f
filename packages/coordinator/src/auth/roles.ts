import type { OperatorService } from "@ferry/common";

/** What an operator may do, each role including the ones before it. */
export type Role = "viewer" | "operator" | "admin";

/** The roles in order of power. */
export const ROLES: readonly Role[] = ["viewer", "operator", "admin"];

type OperatorMethod = keyof (typeof OperatorService)["method"];

/**
 * The least role each operator API method needs: viewers read, operators run backups and
 * restores, admins change policies and the repository.
 */
export const METHOD_ROLE: Readonly<Record<OperatorMethod, Role>> = {
  listMovers: "viewer",
  listVms: "viewer",
  listPolicies: "viewer",
  listJobs: "viewer",
  getJob: "viewer",
  watchJob: "viewer",
  listRestorePoints: "viewer",
  browseFiles: "viewer",
  plan: "viewer",
  simulate: "viewer",
  protectionReport: "viewer",
  backupNow: "operator",
  restore: "operator",
  restoreFiles: "operator",
  verify: "operator",
  createPolicy: "admin",
  deletePolicy: "admin",
  prune: "admin",
  collectGarbage: "admin",
  rescanRepository: "admin",
};

/** True when `have` is at least `need`. */
export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}
