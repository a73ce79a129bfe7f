/** One step of a catalog schema (each store keeps its own ordered list). */
export interface Migration {
  /** 1, 2, 3, ... in order, no gaps. */
  version: number;
  /** What the step does, for humans reading the list. */
  description: string;
  /** Statements run in the migration's transaction. */
  sql: string;
}
