// The Ferry console: plain DOM, no framework, no build step. Every string from the server is
// put into the page as text (textContent), never as HTML: VM and policy names are user input.
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("ferry-token") ?? "";
let me;
const jobs = new Map();
let feed;

/** An element with attributes and children; strings become text nodes. */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "onclick") e.addEventListener("click", v);
    else if (v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat())
    if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c));
  return e;
}
const table = (head, rows) =>
  el(
    "table",
    {},
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        head.map((h) => el("th", {}, h)),
      ),
    ),
    el("tbody", {}, rows),
  );
const put = (id, ...nodes) => $(id).replaceChildren(...nodes.flat());
const when = (ts) => (ts ? new Date(ts).toISOString().replace(/\.\d+Z$/, "Z") : "-");
const enumName = (v, prefix) => (v ?? `${prefix}UNSPECIFIED`).slice(prefix.length).toLowerCase();
const bytes = (n) => {
  let v = Number(n ?? 0);
  for (const u of ["B", "KiB", "MiB", "GiB", "TiB"]) {
    if (v < 1024 || u === "TiB") return `${v.toFixed(u === "B" ? 0 : 1)} ${u}`;
    v /= 1024;
  }
};
const duration = (s) => {
  const n = Number(s ?? 0);
  if (n < 60) return `${Math.round(n)}s`;
  return n < 3600
    ? `${Math.round(n / 60)}m`
    : n < 172800
      ? `${Math.round(n / 3600)}h`
      : `${Math.round(n / 86400)}d`;
};
const canRun = () => me && me.role !== "viewer";

class ApiError extends Error {
  constructor(status, body) {
    super(body.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body.code;
  }
}

async function api(method, body = {}) {
  const res = await fetch(`/api/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, answer);
  return answer;
}

function say(err) {
  $("message").textContent = err ? `${err.code ?? "ERROR"}: ${err.message}` : "";
  if (err?.status === 401) signOut();
}

async function signIn(t) {
  token = t;
  const res = await fetch("/api/whoami", { headers: { authorization: `Bearer ${t}` } });
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, answer);
  me = answer;
  sessionStorage.setItem("ferry-token", t);
  $("who").textContent = `${me.name} (${me.role})`;
  $("sign-in").hidden = true;
  $("sign-out").hidden = false;
  $("app").hidden = false;
  $("restore-to-label").hidden = !canRun();
  await refresh();
  await listen();
}

function signOut() {
  token = "";
  me = undefined;
  sessionStorage.removeItem("ferry-token");
  feed?.abort();
  $("app").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("who").textContent = "";
}

// Tasks shown per job listed; `ferry jobs show` pages the rest.
const TASKS_SHOWN = 100;
// Jobs a tab holds and shows, newest first.
const JOBS_KEPT = 100;

async function refresh() {
  try {
    const [movers, report, list, points, policies] = await Promise.all([
      api("listMovers"),
      api("protectionReport"),
      api("listJobs", { limit: 20 }),
      api("listRestorePoints"),
      api("listPolicies"),
    ]);
    const chosen = $("plan-policy").value;
    put(
      "plan-policy",
      (policies.policies ?? []).map((p) =>
        el("option", { value: p.id, selected: p.id === chosen }, p.name),
      ),
    );
    renderMovers(movers.movers ?? []);
    renderReport(report);
    // ListJobs carries each job's summary only: the first page of tasks comes from GetJob.
    const listed = (list.jobs ?? []).filter((j) => !jobs.get(j.id)?.live);
    const pages = await Promise.all(
      listed.map((j) =>
        api("getJob", { id: j.id, pageSize: TASKS_SHOWN }).catch(() => ({ job: j })),
      ),
    );
    for (const [i, j] of listed.entries())
      if (!jobs.get(j.id)?.live) jobs.set(j.id, { job: pages[i]?.job ?? j, progress: [] });
    renderJobs();
    renderPoints(points.restorePoints ?? []);
  } catch (err) {
    say(err);
  }
}

function renderMovers(movers) {
  put(
    "movers",
    movers.length === 0
      ? "No movers registered."
      : table(
          ["Mover", "State", "Host", "Running", "Datastore latency", "Last heartbeat"],
          movers.map((m) =>
            el(
              "tr",
              {},
              el("td", {}, m.id),
              el(
                "td",
                { class: m.state === "MOVER_STATE_UP" ? "good" : "bad" },
                enumName(m.state, "MOVER_STATE_"),
              ),
              el("td", {}, m.hostId ?? ""),
              el("td", {}, String(m.metrics?.runningTasks ?? 0)),
              el(
                "td",
                {},
                (m.metrics?.datastoreLatencies ?? [])
                  .map((l) => `${l.datastoreId} ${Number(l.latencyMs ?? 0).toFixed(1)} ms`)
                  .join(", ") || "-",
              ),
              el("td", {}, when(m.lastHeartbeatAt)),
            ),
          ),
        ),
  );
}

function renderReport(report) {
  const rows = report.rows ?? [];
  put(
    "vms",
    rows.length === 0
      ? "No VMs in the inventory."
      : table(
          [
            "VM",
            "Status",
            "Policies",
            "RPO",
            "Age",
            "Last good",
            "Consistency",
            "Verified",
            "Tested",
            "",
          ],
          rows.map((r) => {
            const p = r.lastGood;
            const status = r.status ?? "";
            return el(
              "tr",
              { "data-vm": r.vmId },
              el("td", { class: "vm-name" }, r.vmName ?? r.vmId),
              el(
                "td",
                {
                  class:
                    status === "ok"
                      ? "good"
                      : status === "unscheduled" || status === "pending"
                        ? ""
                        : "bad",
                },
                status.replace("_", " "),
              ),
              el("td", {}, (r.policies ?? []).join(", ") || "-"),
              el("td", {}, r.rpoSeconds ? duration(r.rpoSeconds) : "-"),
              el("td", {}, p ? duration(r.ageSeconds) : "-"),
              el("td", {}, p ? when(p.createdAt) : "-"),
              el("td", {}, p ? enumName(p.consistency, "CONSISTENCY_") : "-"),
              el("td", {}, p?.verify ? (p.verify.ok ? "ok" : "FAILED") : "-"),
              el(
                "td",
                {},
                p?.bootTest ? (p.bootTest.ok ? "booted" : `FAILED ${p.bootTest.error ?? ""}`) : "-",
              ),
              el(
                "td",
                {},
                canRun()
                  ? el(
                      "button",
                      { class: "backup", onclick: () => start("backupNow", { vmIds: [r.vmId] }) },
                      "Back up now",
                    )
                  : "",
              ),
            );
          }),
        ),
  );
}

function renderJobs() {
  const sorted = [...jobs.values()].sort((a, b) =>
    String(b.job.createdAt).localeCompare(String(a.job.createdAt)),
  );
  // A tab left open for weeks hears of every job: past the newest JOBS_KEPT it keeps only
  // jobs still queued or running, however old (a long full backup stays in view).
  const ended = (j) => /SUCCEEDED|FAILED|CANCELLED|PARTLY/.test(j.job.state ?? "");
  for (const old of sorted.slice(JOBS_KEPT)) if (ended(old)) jobs.delete(old.job.id);
  const list = sorted.filter((j, i) => i < JOBS_KEPT || !ended(j));
  put(
    "jobs",
    list.length === 0
      ? "No jobs yet."
      : list.map(({ job, progress }) => {
          const s = job.summary ?? {};
          const total = Number(s.bytesTotal ?? 0);
          const pct = total > 0 ? Math.floor((100 * Number(s.bytesRead ?? 0)) / total) : 0;
          const state = enumName(job.state, "JOB_STATE_");
          const shown = state === "succeeded" ? 100 : pct;
          return el(
            "div",
            { class: "job", "data-job": job.id },
            el("strong", {}, `Job ${job.id}`),
            " ",
            el(
              "span",
              {
                class: `job-state ${state === "succeeded" ? "good" : /fail|cancel/.test(state) ? "bad" : ""}`,
              },
              state,
            ),
            " ",
            el("progress", { max: 100, value: shown }),
            " ",
            el("span", { class: "job-percent" }, `${shown}%`),
            job.reason ? el("span", { class: "bad" }, ` ${job.reason}`) : "",
            (job.tasks ?? []).length < Number(s.tasks ?? 0)
              ? el(
                  "div",
                  {},
                  `showing ${(job.tasks ?? []).length} of ${s.tasks} tasks (ferry jobs show ${job.id})`,
                )
              : "",
            el(
              "div",
              { class: "tasks" },
              table(
                ["VM", "State", "Phase", "Progress", "Failure"],
                (job.tasks ?? []).map((t) => {
                  const ev = progress.find((e) => e.taskId === t.id);
                  const tt = Number(ev?.bytesTotal ?? 0);
                  const tp =
                    enumName(t.state, "TASK_STATE_") === "succeeded"
                      ? 100
                      : tt > 0
                        ? Math.floor((100 * Number(ev.bytesRead ?? 0)) / tt)
                        : 0;
                  return el(
                    "tr",
                    {},
                    el("td", {}, t.vmId ?? ""),
                    el("td", {}, enumName(t.state, "TASK_STATE_")),
                    // The last phase a finished task reported (cleaning up) would mislead.
                    el(
                      "td",
                      {},
                      /RUNNING/.test(t.state ?? "")
                        ? enumName(ev?.phase ?? t.phase, "PHASE_")
                        : "-",
                    ),
                    el("td", {}, tt > 0 ? `${tp}% of ${bytes(tt)}` : tp === 100 ? "done" : "-"),
                    el(
                      "td",
                      { class: "bad" },
                      t.error ? `${t.error.code ?? ""} ${t.error.message ?? ""}` : "",
                    ),
                  );
                }),
              ),
            ),
          );
        }),
  );
}

function renderPoints(points) {
  put(
    "points",
    points.length === 0
      ? "No restore points."
      : table(
          [
            "Restore point",
            "VM",
            "Created",
            "Consistency",
            "Mode",
            "Verified",
            "Tested",
            "Size",
            "",
          ],
          points
            .slice()
            .sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)))
            .map((p) =>
              el(
                "tr",
                { "data-point": p.id },
                el("td", {}, p.id),
                el("td", {}, p.vmName ?? p.vmId),
                el("td", {}, when(p.createdAt)),
                el("td", {}, enumName(p.consistency, "CONSISTENCY_")),
                el("td", {}, enumName(p.mode, "BACKUP_MODE_")),
                el(
                  "td",
                  {},
                  p.verify ? (p.verify.ok ? `ok ${when(p.verify.verifiedAt)}` : "FAILED") : "-",
                ),
                el(
                  "td",
                  {},
                  p.bootTest
                    ? p.bootTest.ok
                      ? "booted"
                      : `FAILED ${p.bootTest.error ?? ""}`
                    : "-",
                ),
                el(
                  "td",
                  {},
                  bytes((p.disks ?? []).reduce((n, d) => n + Number(d.sizeBytes ?? 0), 0)),
                ),
                el(
                  "td",
                  {},
                  canRun()
                    ? el(
                        "button",
                        {
                          class: "restore",
                          onclick: () =>
                            start("restore", {
                              restorePointId: p.id,
                              targetDir: $("restore-to").value,
                            }),
                        },
                        "Restore",
                      )
                    : "",
                ),
              ),
            ),
        ),
  );
}

// The plan of a policy's window as a timeline: a bar per task, and each datastore's
// predicted load (tasks at once) as steps under it.
function renderPlan(plan) {
  const span = Math.max(Number(plan.makespanS ?? 0), Number(plan.windowS ?? 0), 1);
  const pct = (s) => `${(100 * Number(s ?? 0)) / span}%`;
  const bar = (t) => {
    const b = el("div", { class: "bar", title: `${t.vmId} on ${t.moverId ?? ""}` });
    b.style.left = pct(t.startS);
    b.style.width = pct(Number(t.endS ?? 0) - Number(t.startS ?? 0));
    return el("div", { class: "track" }, b);
  };
  const load = (ds) => {
    const steps = ds.steps ?? [];
    const most = Math.max(1, ...steps.map((s) => Number(s.tasks ?? 0)));
    return el(
      "div",
      { class: "load" },
      steps.map((s, i) => {
        const d = el("div", { title: `${s.tasks ?? 0} task(s) from ${duration(s.atS)}` });
        d.style.width = pct(Number(steps[i + 1]?.atS ?? span) - Number(s.atS ?? 0));
        d.style.height = `${(100 * Number(s.tasks ?? 0)) / most}%`;
        return d;
      }),
    );
  };
  put(
    "plan",
    el(
      "p",
      {},
      `Ends after ${duration(plan.makespanS)} (lower bound ${duration(plan.lowerBoundS)}, bound by ${plan.binding ?? "-"})`,
      plan.windowS ? `; window ${duration(plan.windowS)}` : "",
      ...(plan.warnings ?? []).map((w) => el("div", { class: "bad" }, w)),
    ),
    table(
      ["Task / datastore", "Timeline"],
      [
        ...(plan.tasks ?? []).map((t) =>
          el("tr", { class: "plan-task" }, el("td", {}, t.vmId), el("td", {}, bar(t))),
        ),
        ...(plan.datastores ?? []).map((ds) =>
          el("tr", { class: "plan-load" }, el("td", {}, `${ds.id} load`), el("td", {}, load(ds))),
        ),
      ],
    ),
  );
}

async function plan() {
  say();
  try {
    renderPlan(await api("plan", { policyId: $("plan-policy").value }));
  } catch (err) {
    say(err);
  }
}

async function start(method, body) {
  say();
  try {
    const { job } = await api(method, body);
    jobs.set(job.id, { job, progress: [], live: true });
    renderJobs();
  } catch (err) {
    say(err);
  }
}

// The job feed: server-sent events read with fetch, which (unlike EventSource) sends the token
// in a header rather than in the URL. One stream per tab, fed by the coordinator's NATS progress.
async function listen() {
  feed?.abort();
  const ac = new AbortController();
  feed = ac;
  try {
    const res = await fetch("/api/events", {
      headers: { authorization: `Bearer ${token}` },
      signal: ac.signal,
    });
    if (!res.ok || !res.body) throw new ApiError(res.status, await res.json().catch(() => ({})));
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      for (let end = buf.indexOf("\n\n"); end >= 0; end = buf.indexOf("\n\n")) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const data = block
          .split("\n")
          .filter((l) => l.startsWith("data: "))
          .map((l) => l.slice(6))
          .join("\n");
        if (data) onJob(JSON.parse(data));
      }
    }
  } catch (err) {
    if (ac.signal.aborted) return;
    say(err);
  }
  // The coordinator restarted or the network blinked: reconnect while signed in.
  if (!ac.signal.aborted && token) setTimeout(listen, 2000);
}

function onJob({ job, progress }) {
  if (!job) return;
  const before = jobs.get(job.id);
  jobs.set(job.id, { job, progress: progress ?? [], live: true });
  renderJobs();
  const ended = /SUCCEEDED|FAILED|CANCELLED/.test(job.state ?? "");
  if (ended && before?.job.state !== job.state) void refresh();
}

$("sign-in").addEventListener("submit", (e) => {
  e.preventDefault();
  $("sign-in-error").textContent = "";
  signIn($("token").value.trim()).catch((err) => {
    $("sign-in-error").textContent =
      err.status === 401 ? "That token is not valid here." : err.message;
  });
});
$("sign-out").addEventListener("click", signOut);
$("plan-run").addEventListener("click", () => void plan());
if (token) signIn(token).catch(signOut);
else $("sign-in").hidden = false;
