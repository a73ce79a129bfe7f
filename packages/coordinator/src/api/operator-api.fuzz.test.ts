import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  create,
  type DescField,
  type DescMessage,
  type DescMethod,
  type Message,
  ScalarType,
} from "@bufbuild/protobuf";
import {
  createClient,
  createLogger,
  type ErrorCode,
  FerryError,
  OperatorService,
  parseConfig,
} from "@ferry/common";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restorePoint } from "../catalog/catalog-fixtures.test-helper.js";
import { coordinatorConfigSchema } from "../config.js";
import { type Coordinator, startCoordinator } from "../coordinator.js";

/** Codes that tell an operator what to change; anything else is a bug at the API edge. */
const ACCEPTED: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "INVALID_ARGUMENT",
  "NOT_FOUND",
  "FAILED_PRECONDITION",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "UNAVAILABLE",
  "RESOURCE_EXHAUSTED",
  "KEY_REQUIRED",
  "CONFIG_INVALID",
]);

/** Text of a JavaScript runtime error leaking through instead of a Ferry message. */
const RUNTIME_ERROR =
  /TypeError|RangeError|ReferenceError|SyntaxError|Cannot read prop|is not a function|is not iterable|ERR_[A-Z_]{3,}|\[object Object\]/;

// Modest by default (the whole file takes a few seconds); FUZZ_RUNS=300 for a longer hunt.
const RUNS_PER_METHOD = Number(process.env.FUZZ_RUNS ?? 30);
const MAX_DEPTH = 2;

let work: string;
let coordinator: Coordinator;
/** Values the server knows (a repository, a restore point, a job, a policy), mixed in so
 * requests reach past the first NOT_FOUND. */
const known = {
  repository: "",
  restorePointId: "",
  jobId: "",
  policy: "fuzz-policy",
  /** A policy DeletePolicy may find; the one above stays for Prune, Plan and the rest. */
  doomedPolicy: "fuzz-doomed",
};

/**
 * Strings that break APIs. The only paths outside the test's directory are these fixed ones,
 * and nothing touches them: no mover is registered, so repository maintenance answers
 * UNAVAILABLE and a restore to them stays queued (the coordinator opens no repository).
 */
function nastyStrings(): string[] {
  return [
    "",
    " ",
    ".",
    "..",
    "../x",
    "../../etc",
    "relative/path",
    "/",
    "/etc",
    "/etc/passwd",
    `${work}/../../etc`,
    `${known.repository}/repository.json`,
    `${known.repository}/repository.json/x`,
    `${known.repository}/`,
    `${known.repository}/.`,
    `${known.repository}/../repo`,
    "a\0b",
    "\0",
    `${known.repository}\0`,
    "\uD800",
    "名前",
    "🦀",
    "*",
    "[",
    "%s%n",
    "\n",
    "-1",
    "x".repeat(10_000),
    `/${"x".repeat(10_000)}`,
    `${work}/${"x".repeat(300)}`,
  ];
}

/** Plausible values per field name, so some requests get deep; every field still gets junk. */
function hints(): Record<string, string[]> {
  return {
    name: ["fuzz-a", "fuzz-b", known.policy],
    vm_globs: ["web-*", "*", "db-?"],
    vm_tags: ["prod", "db"],
    schedule: ["0 3 * * *", "*/5 * * * *", "0 0 31 2 *"],
    verify_schedule: ["0 4 * * sun", "* * * * *"],
    window_start: ["22:00", "00:00", "24:00"],
    window_end: ["06:00", "22:00", "25:61"],
    time_zone: ["UTC", "Europe/Berlin", "Mars/Olympus"],
    repository: [known.repository, `${work}/nothing-here`],
    target_dir: [`${work}/target`, `${work}/target/../target`],
    path: ["/", "/etc", "/root/.ssh"],
    paths: ["/etc/hostname", "/", "../../etc/shadow"],
    id: [known.restorePointId, known.jobId, known.doomedPolicy],
    policy_id: [known.policy, known.policy, "fuzz-a"],
    restore_point_id: [known.restorePointId],
    restore_point_ids: [known.restorePointId],
    vm_id: ["vm-1"],
    vm_ids: ["vm-1", "web-1"],
    disk_ids: ["d", "disk-0"],
  };
}

/** A random absolute path kept under the test's directory, so nothing else is touched. */
function pathUnderWork(): fc.Arbitrary<string> {
  const segment = fc.oneof(
    fc.constantFrom("repo", "coord", "chunks", "restore-points", "repository.json", "", "."),
    fc.string({ maxLength: 12 }),
  );
  return fc
    .array(segment, { maxLength: 4 })
    .map((segments) => [work, ...segments].join("/"))
    .filter((p) => resolve(p) === work || resolve(p).startsWith(`${work}/`));
}

/**
 * "junk" draws from the whole space of a type; "plausible" stays near valid input (hints,
 * small numbers, known enum values), so a request can pass every check but one.
 */
type Mode = "junk" | "plausible";

function stringArb(field: DescField, mode: Mode): fc.Arbitrary<string> {
  const hinted = fc.constantFrom(...(hints()[field.name] ?? ["web-1"]));
  if (mode === "plausible") return hinted;
  const junk = fc.oneof(
    fc.string({ maxLength: 24 }),
    fc.string({ unit: "grapheme", maxLength: 12 }),
    fc.string({ unit: "binary", maxLength: 12 }),
  );
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...nastyStrings()) },
    { weight: 1, arbitrary: hinted },
    // Random text that happens to be absolute is moved under the test's directory.
    { weight: 3, arbitrary: junk.map((s) => (s.startsWith("/") ? `${work}${s}` : s)) },
    { weight: 2, arbitrary: pathUnderWork() },
  );
}

const UINT32_EDGES = [
  0,
  1,
  2,
  7,
  100,
  1000,
  1001,
  10_000,
  10_001,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32 - 1,
];
const INT32_EDGES = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31)];

/** Random values of a scalar type, edges included, always in the type's wire range. */
function scalarArb(field: DescField, type: ScalarType, mode: Mode): fc.Arbitrary<unknown> {
  const near = mode === "plausible";
  switch (type) {
    case ScalarType.STRING:
      return stringArb(field, mode);
    case ScalarType.BYTES:
      return fc.uint8Array({ maxLength: near ? 8 : 64 });
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return near
        ? fc.nat({ max: 10 })
        : fc.oneof(fc.constantFrom(...UINT32_EDGES), fc.nat({ max: 2 ** 32 - 1 }));
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return near ? fc.nat({ max: 10 }) : fc.oneof(fc.constantFrom(...INT32_EDGES), fc.integer());
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return fc.bigInt({ min: 0n, max: near ? 10n : 2n ** 64n - 1n });
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return near
        ? fc.bigInt({ min: 0n, max: 10n })
        : fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case ScalarType.DOUBLE:
      return near ? fc.double({ min: 0, max: 100, noNaN: true }) : fc.double();
    case ScalarType.FLOAT:
      return near ? fc.float({ min: 0, max: 100, noNaN: true }) : fc.float();
  }
}

function enumArb(values: readonly { number: number }[], mode: Mode): fc.Arbitrary<number> {
  const known = fc.constantFrom(...values.map((v) => v.number));
  if (mode === "plausible") return known;
  return fc.oneof(
    { weight: 3, arbitrary: known },
    // Open enums: a client may send numbers this server has never heard of.
    { weight: 1, arbitrary: fc.constantFrom(-1, 99, 2 ** 31 - 1) },
  );
}

function listOf<T>(element: fc.Arbitrary<T>, mode: Mode): fc.Arbitrary<T[]> {
  if (mode === "plausible") return fc.array(element, { maxLength: 3 });
  return fc.oneof(
    { weight: 4, arbitrary: fc.array(element, { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.array(element, { minLength: 90, maxLength: 120 }) },
  );
}

/** Random values of one field (a message field is absent at the depth limit). */
function fieldArb(field: DescField, depth: number, mode: Mode): fc.Arbitrary<unknown> {
  switch (field.fieldKind) {
    case "scalar":
      return scalarArb(field, field.scalar, mode);
    case "enum":
      return enumArb(field.enum.values, mode);
    case "message":
      return messageArb(field.message, depth + 1);
    case "list":
      if (field.listKind === "scalar") return listOf(scalarArb(field, field.scalar, mode), mode);
      if (field.listKind === "enum") return listOf(enumArb(field.enum.values, mode), mode);
      return fc.array(messageArb(field.message, depth + 1), { maxLength: 2 });
    case "map": {
      const value =
        field.mapKind === "scalar"
          ? scalarArb(field, field.scalar, mode)
          : field.mapKind === "enum"
            ? enumArb(field.enum.values, mode)
            : messageArb(field.message, depth + 1);
      return fc.dictionary(fc.string({ maxLength: 8 }), value, { maxKeys: 3 });
    }
  }
}

/** The init key and value that set `field` (a oneof member sets its oneof). */
function setting(field: DescField, value: unknown): [string, unknown] {
  return field.oneof
    ? [field.oneof.localName, { case: field.localName, value }]
    : [field.localName, value];
}

/** Inits of `schema` with any subset of fields set, one member of each oneof. */
function initArb(schema: DescMessage, depth: number, mode: Mode) {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of schema.fields)
    if (!field.oneof) model[field.localName] = fieldArb(field, depth, mode);
  for (const oneof of schema.oneofs)
    model[oneof.localName] = fc.oneof(
      ...oneof.fields.map((f) => fieldArb(f, depth, mode).map((v) => setting(f, v)[1])),
    );
  return fc.record(model, { requiredKeys: [] });
}

/**
 * Random messages of `schema`: junk throughout, plausible throughout, or plausible but for
 * one junk field (which then meets its own check rather than an earlier one).
 */
function messageArb(schema: DescMessage, depth = 0): fc.Arbitrary<Message> {
  if (depth > MAX_DEPTH) return fc.constant(create(schema));
  const inits: fc.Arbitrary<Record<string, unknown>>[] = [
    initArb(schema, depth, "junk"),
    initArb(schema, depth, "plausible"),
  ];
  if (schema.fields.length > 0)
    inits.push(
      fc
        .tuple(initArb(schema, depth, "plausible"), fc.constantFrom(...schema.fields))
        .chain(([init, field]) =>
          fieldArb(field, depth, "junk").map((v) => {
            const [key, value] = setting(field, v);
            return { ...init, [key]: value };
          }),
        ),
    );
  return fc.oneof(...inits).map((init) => create(schema, init as Record<string, never>));
}

type AnyCall = (request: object, options?: { signal?: AbortSignal }) => unknown;

/** Calls `method`; a stream is read to its first message or error, then cancelled. */
async function call(
  client: Record<string, AnyCall>,
  method: DescMethod,
  request: Message,
): Promise<void> {
  const fn = client[method.localName] as AnyCall;
  if (method.methodKind !== "server_streaming") {
    await fn(request);
    return;
  }
  const abort = new AbortController();
  const stream = fn(request, { signal: abort.signal }) as AsyncIterable<unknown>;
  try {
    for await (const _ of stream) break;
  } finally {
    abort.abort();
  }
}

/** Fails unless `err` is a FerryError an operator can act on, saying what is wrong. */
function expectActionable(err: unknown, method: DescMethod, request: Message): void {
  const context = `${method.name}(${JSON.stringify(request, (_k, v) =>
    typeof v === "bigint"
      ? String(v)
      : typeof v === "string" && v.length > 80
        ? `${v.slice(0, 80)}…(${v.length})`
        : v,
  )})`;
  expect(err, context).toBeInstanceOf(FerryError);
  const { code, message } = err as FerryError;
  expect(ACCEPTED.has(code), `${context} failed with ${code}: ${message}`).toBe(true);
  expect(message.trim(), `${context} failed with an empty message`).not.toBe("");
  expect(message, `${context} leaked a runtime error`).not.toMatch(RUNTIME_ERROR);
}

describe("the operator API under random requests", () => {
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ferry-api-fuzz-"));
    known.repository = join(work, "repo");
    known.restorePointId = "vm-1/20260101T000000000Z-0123abcd";
    coordinator = await startCoordinator(
      parseConfig(
        coordinatorConfigSchema,
        {
          listen: "127.0.0.1:0",
          dataDir: join(work, "coord"),
          repository: known.repository,
          logLevel: "error",
        },
        "test",
      ),
      { logger: createLogger({ name: "test", write: () => undefined }) },
    );
    // Catalogued as a mover's rescan would: no mover runs here to list a repository.
    await coordinator.catalog.restorePoints.upsert(
      restorePoint(known.restorePointId, {
        vmId: "vm-1",
        vmName: "web-1",
        repository: known.repository,
      }),
    );
    using client = createClient(OperatorService, coordinator.address);
    for (const name of [known.policy, known.doomedPolicy])
      await client.createPolicy({
        policy: { name, vmGlobs: ["web-*"], repository: known.repository },
      });
    const restore = await client.restore({
      restorePointId: known.restorePointId,
      targetDir: join(work, "target"),
    });
    known.jobId = restore.job?.id ?? "";
  });

  afterAll(async () => {
    await coordinator?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("knows the fixtures it mixes into requests", () => {
    expect(known.restorePointId).not.toBe("");
    expect(known.jobId).not.toBe("");
  });

  // Requests the property once found failing with INTERNAL, pinned with their answers.
  it("refuses bad paths and oversized text with the field's name", async () => {
    using client = createClient(OperatorService, coordinator.address);
    const refusal = (call: () => Promise<unknown>) =>
      call().then(
        () => undefined,
        (e: unknown) => e,
      );
    const cases: [() => Promise<unknown>, ErrorCode, RegExp][] = [
      [
        () => client.collectGarbage({ repository: `${known.repository}\0` }),
        "INVALID_ARGUMENT",
        /^repository must not contain a NUL character$/,
      ],
      [
        () => client.verify({ repository: `/${"x".repeat(10_000)}` }),
        "INVALID_ARGUMENT",
        /^repository is 10001 characters long; at most 4096/,
      ],
      [
        () => client.rescanRepository({ repository: `${work}/${"x".repeat(300)}` }),
        "INVALID_ARGUMENT",
        /^repository has a component of 300 bytes; at most 255$/,
      ],
      [
        () => client.verify({ repository: `${known.repository}/repository.json/x` }),
        "UNAVAILABLE",
        /^no mover is up to verify \/.+: repository maintenance runs on movers, and none has registered with this coordinator$/,
      ],
      [
        () => client.backupNow({ vmIds: ["web-1"], repository: "relative/path" }),
        "INVALID_ARGUMENT",
        /^repository "relative\/path" must be an absolute path$/,
      ],
      [
        () => client.restore({ restorePointId: known.restorePointId, targetDir: "/tmp/a\0" }),
        "INVALID_ARGUMENT",
        /^targetDir must not contain a NUL character$/,
      ],
      [
        () =>
          client.restore({
            restorePointId: known.restorePointId,
            targetDir: "/tmp/a",
            instant: true,
          }),
        "INVALID_ARGUMENT",
        /^instant recovery boots a libvirt domain: name it/,
      ],
      [
        () =>
          client.restore({
            restorePointId: known.restorePointId,
            targetDir: "/tmp/a",
            domainName: "web-2",
            overwrite: true,
          }),
        "INVALID_ARGUMENT",
        /^a domain restore never replaces images/,
      ],
      [
        () =>
          client.restore({
            restorePointId: known.restorePointId,
            targetDir: "/tmp/a",
            moverId: "m",
          }),
        "INVALID_ARGUMENT",
        /^a mover is chosen for a domain restore only/,
      ],
      [
        () => client.getJob({ id: "x".repeat(10_000) }),
        "INVALID_ARGUMENT",
        /^id is 10000 characters long/,
      ],
    ];
    for (const [call, code, message] of cases) {
      const err = await refusal(call);
      expect(err).toBeInstanceOf(FerryError);
      expect(err).toMatchObject({ code });
      expect((err as FerryError).message).toMatch(message);
    }
  });

  for (const method of OperatorService.methods) {
    it(`${method.name} succeeds or refuses clearly, and the coordinator stays up`, async () => {
      using client = createClient(OperatorService, coordinator.address, {
        defaultTimeoutMs: 10_000,
      });
      const calls = client as unknown as Record<string, AnyCall>;
      await fc.assert(
        fc.asyncProperty(messageArb(method.input), async (request) => {
          const err = await call(calls, method, request).then(
            () => undefined,
            (e: unknown) => e,
          );
          if (err !== undefined) expectActionable(err, method, request);
        }),
        { numRuns: RUNS_PER_METHOD },
      );
      await expect(client.listMovers({})).resolves.toMatchObject({ movers: [] });
    });
  }
});
