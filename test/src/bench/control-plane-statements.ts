// What PostgreSQL spent its time on, for `pnpm bench:control-plane --pg-statements`: the
// statements pg_stat_statements counted, and the plans of the API's listings.

/** Runs SQL in the catalog's database; unaligned, tuples-only output. */
type Psql = (sql: string) => Promise<string>;

/** Starts counting in the catalog's database (the server loaded the library). */
export async function startStatements(psql: Psql): Promise<void> {
  await psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  await psql("SELECT pg_stat_statements_reset()");
}

/** The `limit` statements of most total time since the reset, as printable lines. */
export async function topStatements(psql: Psql, limit = 12): Promise<string[]> {
  const rows = await psql(
    `SELECT calls || '|' || round(total_exec_time::numeric, 0) || '|' ||
       round(mean_exec_time::numeric, 2) || '|' || round(max_exec_time::numeric, 1) || '|' ||
       left(regexp_replace(query, '\\s+', ' ', 'g'), 100)
     FROM pg_stat_statements
     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
     ORDER BY total_exec_time DESC LIMIT ${limit}`,
  );
  return [
    "   calls   total ms   mean ms    max ms  statement",
    ...rows
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const [calls, total, mean, max, query] = line.split("|");
        return `${calls?.padStart(8)} ${total?.padStart(10)} ${mean?.padStart(9)} ${max?.padStart(9)}  ${query}`;
      }),
  ];
}

/** EXPLAIN (ANALYZE, BUFFERS) of `sql`, indented. */
export async function explain(psql: Psql, sql: string): Promise<string[]> {
  const plan = await psql(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`);
  return plan.split("\n").map((l) => `    ${l}`);
}
