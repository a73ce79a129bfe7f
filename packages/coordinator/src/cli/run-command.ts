// The operator CLI's commands, loaded once main.ts has parsed a command line that names one.

import { timestampDate } from "@bufbuild/protobuf/wkt";
import { MoverState, type ParsedArgs, parseConfig, Transport, VmPowerState } from "@ferry/common";
import {
  catalogCommand,
  policiesCommand,
  restoreCommand,
  restorePointsCommand,
} from "./catalog-commands.js";
import { filesCommand } from "./files-commands.js";
import { backupCommand, jobsCommand } from "./job-commands.js";
import { gcCommand, pruneCommand, verifyCommand } from "./maintenance-commands.js";
import { operatorClient } from "./operator-client.js";
import { cliTls, pkiCommand } from "./pki-commands.js";
import { planCommand, simulateCommand } from "./plan-commands.js";
import { reportCommand } from "./report-command.js";
import { svgRows } from "./svg-output.js";
import { formatBytes, renderTable } from "./table.js";
import { cliAuth, tokenCommand } from "./token-commands.js";

const enumName = (value: number, names: Record<number, string>) => names[value] ?? "unknown";
const STATE = { [MoverState.UP]: "up", [MoverState.DOWN]: "down" };
const TRANSPORT = { [Transport.HOTADD]: "hotadd", [Transport.NBD]: "nbd" };
const POWER = {
  [VmPowerState.RUNNING]: "running",
  [VmPowerState.PAUSED]: "paused",
  [VmPowerState.STOPPED]: "stopped",
};

function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(
    json
      ? `${JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2)}\n`
      : `${text()}\n`,
  );
}

/** Runs the command `args` names (main.ts handled --help and a missing command). */
export async function runCommand(args: ParsedArgs, command: string): Promise<void> {
  const json = args.flags.has("json");
  const server = String(args.flags.get("server") ?? process.env.FERRY_SERVER ?? "127.0.0.1:7100");
  const signal = AbortSignal.timeout(30_000);
  // Every API call carries the TLS identity and the token the operator gave; read only by the
  // commands that call the API (pki issue must work before those files exist).
  const connection = async () => ({ ...(await cliTls(args)), ...cliAuth(args) });
  // catalog migrate and copy open the databases themselves, like `ferry coordinator`.
  if (command === "catalog" && args.positionals[1] !== "rescan") {
    return (await import("./catalog-admin-commands.js")).catalogAdminCommand(args, json);
  }
  // A bad --svg-rows is refused before any planning.
  if (command === "plan" || command === "simulate") svgRows(args);
  // With --estate, plan and simulate run here on a file: no coordinator.
  if ((command === "plan" || command === "simulate") && args.flags.has("estate")) {
    const offline = await import("./offline-plan-commands.js");
    return command === "plan"
      ? offline.offlinePlanCommand(args, json)
      : offline.offlineSimulateCommand(args, json);
  }
  switch (command) {
    case "pki":
      return pkiCommand(args, json);
    case "token":
      return tokenCommand(args, json);
    case "coordinator": {
      // The coordinator itself (catalogs, NATS, the dispatcher) loads only for this command.
      const { coordinatorConfigSchema, loadCoordinatorConfig } = await import("../config.js");
      const { startCoordinator } = await import("../coordinator.js");
      const file = args.flags.get("config");
      const config =
        typeof file === "string"
          ? await loadCoordinatorConfig(file)
          : parseConfig(coordinatorConfigSchema, {}, "defaults");
      const coordinator = await startCoordinator(config);
      const stop = () => void coordinator.close();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      return;
    }
    case "movers": {
      using client = operatorClient(server, {
        defaultTimeoutMs: 10_000,
        ...(await connection()),
      });
      const { movers } = await client.listMovers({}, { signal });
      print(json, movers, () =>
        movers.length === 0
          ? "no movers registered"
          : renderTable(
              [
                "ID",
                "STATE",
                "ADDRESS",
                "HOST",
                "DATASTORES",
                "TRANSPORTS",
                "SLOTS",
                "RUNNING",
                "DATASTORE LATENCY",
                "LAST HEARTBEAT",
              ],
              movers.map((m) => [
                m.id,
                enumName(m.state, STATE),
                m.address,
                m.hostId,
                m.datastoreIds.join(",") || "-",
                m.transports.map((t) => enumName(t, TRANSPORT)).join(",") || "-",
                String(m.taskSlots),
                String(m.metrics?.runningTasks ?? 0),
                (m.metrics?.datastoreLatencies ?? [])
                  .map((l) => `${l.datastoreId} ${l.latencyMs.toFixed(1)} ms`)
                  .join(", ") || "-",
                m.lastHeartbeatAt ? timestampDate(m.lastHeartbeatAt).toISOString() : "-",
              ]),
            ),
      );
      return;
    }
    case "vms": {
      using client = operatorClient(server, {
        defaultTimeoutMs: 10_000,
        ...(await connection()),
      });
      const tag = args.flags.get("tag");
      const res = await client.listVms({ tags: typeof tag === "string" ? [tag] : [] }, { signal });
      print(json, res.vms, () =>
        res.vms.length === 0
          ? "no VMs known"
          : renderTable(
              ["ID", "NAME", "HOST", "POWER", "DISKS", "TAGS"],
              res.vms.map((vm) => [
                vm.id,
                vm.name,
                vm.hostId,
                enumName(vm.powerState, POWER),
                vm.disks
                  .map((d) => `${d.id}:${formatBytes(d.sizeBytes)}@${d.datastoreId || "?"}`)
                  .join(" ") || "-",
                vm.tags.join(",") || "-",
              ]),
            ),
      );
      return;
    }
    case "policies":
    case "backup":
    case "jobs":
    case "restore-points":
    case "restore":
    case "catalog":
    case "prune":
    case "gc":
    case "verify":
    case "plan":
    case "simulate":
    case "report":
    case "files": {
      // Watching may take long: no overall deadline, Ctrl-C ends it. A file restore boots
      // a helper VM and may copy much: ten minutes.
      const watching = command === "jobs" || args.flags.has("wait");
      using client = operatorClient(server, {
        ...(await connection()),
        ...(watching ? {} : { defaultTimeoutMs: command === "files" ? 600_000 : 30_000 }),
      });
      const run = {
        policies: policiesCommand,
        backup: backupCommand,
        jobs: jobsCommand,
        "restore-points": restorePointsCommand,
        restore: restoreCommand,
        catalog: catalogCommand,
        prune: pruneCommand,
        gc: gcCommand,
        verify: verifyCommand,
        plan: planCommand,
        simulate: simulateCommand,
        files: filesCommand,
        report: reportCommand,
      }[command];
      // await: `using` closes the channel when this block exits.
      return await run(client, args, json);
    }
    default:
      throw new Error(`unknown command "${command}" (see ferry --help)`);
  }
}
