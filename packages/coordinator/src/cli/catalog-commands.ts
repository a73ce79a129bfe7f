import { BackupMode, type ParsedArgs, type Policy, QuiesceMode, Transport } from "@ferry/common";
import { type Api, json2, list, out, QUIESCE, str, TRANSPORT } from "./cli-io.js";
import { CONSISTENCY, time } from "./format.js";
import { watch } from "./job-commands.js";
import { formatBytes, renderTable } from "./table.js";

const QUIESCE_NAME: Record<number, string> = {
  [QuiesceMode.REQUIRED]: "required",
  [QuiesceMode.PREFERRED]: "preferred",
  [QuiesceMode.OFF]: "off",
};
const TRANSPORT_NAME: Record<number, string> = {
  [Transport.HOTADD]: "hotadd",
  [Transport.NBD]: "nbd",
  [Transport.UNSPECIFIED]: "any",
};

// "last 7, daily 14, weekly 8": the rules that keep something.
function keepSummary(p: Policy): string {
  const rules: [string, number][] = [
    ["last", p.keepLast],
    ["hourly", p.keepHourly],
    ["daily", p.keepDaily],
    ["weekly", p.keepWeekly],
    ["monthly", p.keepMonthly],
    ["yearly", p.keepYearly],
  ];
  return rules
    .filter(([, n]) => n > 0)
    .map(([name, n]) => `${name} ${n}`)
    .join(", ");
}

function policyTable(policies: readonly Policy[]): string {
  return renderTable(
    [
      "NAME",
      "ID",
      "VMS",
      "TAGS",
      "SCHEDULE",
      "WINDOW",
      "KEEP",
      "QUIESCE",
      "TRANSPORT",
      "REPOSITORY",
    ],
    policies.map((p) => [
      p.name,
      p.id,
      p.vmGlobs.join(",") || "-",
      p.vmTags.join(",") || "-",
      p.schedule || "manual",
      p.windowStart ? `${p.windowStart}-${p.windowEnd} ${p.timeZone}` : "-",
      keepSummary(p),
      QUIESCE_NAME[p.quiesce] ?? "preferred",
      TRANSPORT_NAME[p.transportPreference] ?? "any",
      p.repository,
    ]),
  );
}

/** `ferry policies [list] | create --name ... | delete NAME`. */
export async function policiesCommand(api: Api, args: ParsedArgs, json: boolean): Promise<void> {
  const [, sub = "list", ref] = args.positionals;
  if (sub === "list") {
    const { policies } = await api.listPolicies({});
    return out(json ? json2(policies) : policies.length ? policyTable(policies) : "no policies");
  }
  if (sub === "create") {
    const [start = "", end = ""] = str(args, "window") ? str(args, "window").split("-") : [];
    const keep = str(args, "keep-last");
    const count = (name: string) => (str(args, name) ? Number(str(args, name)) : 0);
    const { policy } = await api.createPolicy({
      policy: {
        name: str(args, "name"),
        vmGlobs: list(args, "vm"),
        vmTags: list(args, "tag"),
        schedule: str(args, "schedule"),
        windowStart: start,
        windowEnd: end,
        timeZone: str(args, "tz"),
        keepLast: keep ? Number(keep) : 0,
        keepHourly: count("keep-hourly"),
        keepDaily: count("keep-daily"),
        keepWeekly: count("keep-weekly"),
        keepMonthly: count("keep-monthly"),
        keepYearly: count("keep-yearly"),
        fullEveryBackups: count("full-every"),
        fullEveryDays: count("full-every-days"),
        verifySchedule: str(args, "verify-schedule"),
        testRestore: args.flags.has("test-restore"),
        quiesce: QUIESCE[str(args, "quiesce")] ?? QuiesceMode.UNSPECIFIED,
        transportPreference: TRANSPORT[str(args, "transport")] ?? Transport.UNSPECIFIED,
        repository: str(args, "repo"),
      },
    });
    return out(json ? json2(policy) : policy ? policyTable([policy]) : "");
  }
  if (sub === "delete") {
    if (!ref) throw new Error("usage: ferry policies delete NAME|ID");
    await api.deletePolicy({ id: ref });
    return out(json ? json2({ deleted: ref }) : `deleted policy ${ref}`);
  }
  throw new Error(`unknown policies command ${JSON.stringify(sub)} (list, create, delete)`);
}

/** `ferry restore-points [--vm ID]`. */
export async function restorePointsCommand(
  api: Api,
  args: ParsedArgs,
  json: boolean,
): Promise<void> {
  const { restorePoints } = await api.listRestorePoints({ vmId: str(args, "vm") });
  if (json) return out(json2(restorePoints));
  if (restorePoints.length === 0) return out("no restore points");
  out(
    renderTable(
      [
        "RESTORE POINT",
        "VM",
        "CREATED",
        "CONSISTENCY",
        "MODE",
        "VERIFIED",
        "TESTED",
        "DISKS",
        "SIZE",
        "READ",
        "NEW",
        "REPOSITORY",
      ],
      restorePoints.map((r) => [
        r.id,
        r.vmName,
        time(r.createdAt),
        CONSISTENCY[r.consistency] ?? "?",
        r.mode === BackupMode.INCREMENTAL ? "incremental" : "full",
        r.verify ? (r.verify.ok ? "ok" : "FAILED") : "-",
        r.bootTest
          ? r.bootTest.ok
            ? `booted ${(r.bootTest.bootMs / 1000).toFixed(1)}s`
            : "FAILED"
          : "-",
        String(r.disks.length),
        formatBytes(r.disks.reduce((n, d) => n + d.sizeBytes, 0n)),
        formatBytes(r.disks.reduce((n, d) => n + d.bytesRead, 0n)),
        formatBytes(r.disks.reduce((n, d) => n + d.bytesNew, 0n)),
        r.repository,
      ]),
    ),
  );
}

/** `ferry restore RESTORE-POINT --to DIR [--disk A,B] [--domain NAME [--instant] [--mover ID]] [--wait]`. */
export async function restoreCommand(api: Api, args: ParsedArgs, json: boolean): Promise<void> {
  const [, id] = args.positionals;
  if (!id || !str(args, "to"))
    throw new Error(
      "usage: ferry restore RESTORE-POINT-ID --to DIR [--disk ID,...] [--overwrite] [--domain NAME [--instant] [--mover ID]] [--wait]",
    );
  if (args.flags.has("instant") && !str(args, "domain"))
    throw new Error("--instant recovers a libvirt domain: name it with --domain NAME");
  const { job } = await api.restore({
    restorePointId: id,
    diskIds: list(args, "disk"),
    targetDir: str(args, "to"),
    overwrite: args.flags.has("overwrite"),
    domainName: str(args, "domain"),
    instant: args.flags.has("instant"),
    moverId: str(args, "mover"),
  });
  if (!job) return;
  if (args.flags.has("wait")) return watch(api, job.id, json);
  out(json ? JSON.stringify({ jobId: job.id }) : job.id);
}

/** `ferry catalog rescan --repo DIR`: rebuild restore points from the repository. */
export async function catalogCommand(api: Api, args: ParsedArgs, json: boolean): Promise<void> {
  const [, sub] = args.positionals;
  if (sub !== "rescan" || !str(args, "repo"))
    throw new Error("usage: ferry catalog rescan --repo DIR");
  const r = await api.rescanRepository({ repository: str(args, "repo") });
  out(
    json
      ? json2(r)
      : `${r.total} restore points in ${str(args, "repo")}: ${r.added} added to the catalog, ${r.removed} removed`,
  );
}
