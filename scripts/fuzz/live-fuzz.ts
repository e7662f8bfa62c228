/**
 * Socket-level fuzzing of the live proxy: a 1-broker cluster, the proxy in front of it with a virtualization
 * rule, a well-behaved KafkaJS client producing and consuming through it (plain and virtualized topics), and
 * workers opening many short connections to the proxy's bootstrap and broker ports with the cases of
 * cases.ts. After each batch of cases the proxy must be alive and answer /healthz. The run fails on a proxy
 * exit, an unresponsive proxy, a response that breaks the protocol (wrong correlation id, undecodable), or any
 * error of the well-behaved client (see well-behaved-client.ts), and reports what it sent.
 *
 * When the proxy dies, the cases in flight and the last ones finished are written to a JSON file with every
 * byte sent, and `npm run fuzz -- --seed S --replay N,M,...` sends them again one at a time to a fresh proxy.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  casesForFullCoverage,
  type FuzzCase,
  type FuzzTargets,
  generateCase,
  PAIRS,
  pairName,
} from "./cases.ts";
import { type LiveEnvironment, MAX_FRAME_BYTES, startLiveEnvironment } from "./environment.ts";
import {
  adminStatus,
  healthz,
  type LogFinding,
  metricSum,
  type ProxyExit,
  scrapeMetrics,
} from "./proxy-watch.ts";
import { type ClientReport, WellBehavedClient } from "./well-behaved-client.ts";
import { type CaseOutcome, runCase } from "./wire.ts";

export interface LiveFuzzOptions {
  durationMs: number;
  seed: number;
  /** Connections open at once (default 6). */
  workers?: number;
  /** The well-behaved client's records per second (default 60). */
  clientRecordsPerSecond?: number;
  /** Runs only these cases, one at a time, checking the proxy after each (a replay). */
  cases?: number[];
  /** Where a crash report goes (default: <tmpdir>/kpp-fuzz). */
  dumpDir?: string;
  log?: (line: string) => void;
}

export interface CaseRecord {
  n: number;
  kind: string;
  detail: string;
  port: number;
  ending: string;
  /** Milliseconds since the fuzzing started. */
  startedAtMs: number;
  endedAtMs?: number;
  outcome?: Omit<CaseOutcome, "written">;
  /** Every byte written, hex, in writes (cut at 64 KiB each). */
  writes: string[];
}

export interface KindTally {
  cases: number;
  frames: number;
  closedByProxy: number;
  responses: number;
}

/** A log line of the proxy that looks like an internal error, with the cases whose connections it named. */
export interface InternalError extends LogFinding {
  /** Cases whose connection (by client port) the first such lines were logged for, as they were logged. */
  cases: { n: number; kind: string; detail: string }[];
  /** The cases (every byte written) whose connections the first such lines named, caught as they were logged. */
  evidence: CaseRecord[];
}

export interface Violation {
  n: number;
  kind: string;
  detail: string;
  problem: string;
}

export interface LiveFuzzReport {
  seed: number;
  fuzzMs: number;
  cases: number;
  connections: number;
  connectFailures: Record<string, number>;
  framesSent: number;
  bytesSent: number;
  responses: number;
  /** Connections the proxy ended or reset before the case did. */
  closedByProxy: number;
  /** Owed responses not come by the end of their case (slow, or the connection was closed). */
  unanswered: number;
  byKind: Record<string, KindTally>;
  coverage: {
    pairs: number;
    header: number;
    valid: number;
    missingHeader: string[];
    missingValid: string[];
    /** Cases a run needs before every pair has had its header and valid case. */
    casesNeeded: number;
  };
  proxy: {
    pid: number;
    rssStartMb: number | undefined;
    rssEndMb: number | undefined;
    rssPeakMb: number | undefined;
    /** V8 heap used (kpp_nodejs_heap_size_used_bytes) before and after the fuzzing. */
    heapStartMb: number | undefined;
    heapEndMb: number | undefined;
    healthChecks: number;
    healthFailures: number;
    /** Most client connections open at once (/admin/status, sampled after each batch). */
    connectionsPeak: number | undefined;
    /** Unhandled rejections and uncaught exceptions the proxy logged: crashes its process handlers caught. */
    survivedCrashes: string[];
    exit: ProxyExit | undefined;
    /** Log lines that look like internal errors caught by a safety net (not a crash). */
    internalErrors: InternalError[];
    logLevels: Record<string, number>;
    /** Client connections the proxy logged closing. */
    closesLogged: number;
    /** Open client connections (/admin/status) before the fuzzing: the well-behaved client's own. */
    connectionsBefore: number | undefined;
    /** Open client connections after the fuzzing, once the count settled (up to 30 s), the client's included. */
    connectionsAfter: number | undefined;
    /** Seconds after the fuzzing that the count took to settle (or the 30 s waited). */
    connectionsSettledAfterS: number | undefined;
  };
  client: ClientReport;
  clientCaughtUp: boolean;
  violations: Violation[];
  crash?: {
    exit: ProxyExit | undefined;
    reason: string;
    tail: string;
    suspects: CaseRecord[];
    file?: string;
    replay: string;
  };
  /** Why the run failed; empty when it passed. */
  failures: string[];
}

const RECENT_KEPT = 200;
const BATCH_PER_WORKER = 8;
const HEALTH_TIMEOUT_MS = 10_000;
const MAX_WRITE_HEX_BYTES = 64 * 1024;
const MAX_VIOLATIONS_KEPT = 40;

export async function runLiveFuzz(options: LiveFuzzOptions): Promise<LiveFuzzReport> {
  const log = options.log ?? (() => {});
  const seed = options.seed >>> 0;
  const env = await startLiveEnvironment({ tag: `s${seed}`, log });
  try {
    return await fuzz(env, { ...options, seed }, log);
  } finally {
    await env.close();
  }
}

async function fuzz(
  env: LiveEnvironment,
  options: LiveFuzzOptions,
  log: (line: string) => void,
): Promise<LiveFuzzReport> {
  const { watch, names } = env;
  const seed = options.seed;
  const targets: FuzzTargets = {
    names,
    virtualPartitions: env.virtualPartitions,
    physicalPartitions: env.physicalPartitions,
    plainPartitions: env.plainPartitions,
    topicIds: env.topicIds,
    bootstrapPort: env.proxy.port,
    brokerPorts: env.brokerPorts,
    maxFrameBytes: MAX_FRAME_BYTES,
  };
  const client = new WellBehavedClient({
    bootstrap: env.proxy.bootstrap,
    topics: [
      { name: names.clientPlain, partitions: env.plainPartitions },
      { name: names.clientVirtual, partitions: env.virtualPartitions },
    ],
    groupId: names.clientGroup,
    clientId: "kpp-well-behaved",
    recordsPerSecond: options.clientRecordsPerSecond ?? 60,
    seed,
    log,
  });
  await client.start();
  log(`well-behaved client producing and consuming ${names.clientPlain} and ${names.clientVirtual}`);

  const report: LiveFuzzReport = {
    seed,
    fuzzMs: 0,
    cases: 0,
    connections: 0,
    connectFailures: {},
    framesSent: 0,
    bytesSent: 0,
    responses: 0,
    closedByProxy: 0,
    unanswered: 0,
    byKind: {},
    coverage: {
      pairs: PAIRS.length,
      header: 0,
      valid: 0,
      missingHeader: [],
      missingValid: [],
      casesNeeded: casesForFullCoverage(),
    },
    proxy: {
      pid: watch.pid,
      rssStartMb: watch.rssMb(),
      rssEndMb: undefined,
      rssPeakMb: watch.rssMb(),
      heapStartMb: await heapUsedMb(env.proxy.adminPort),
      heapEndMb: undefined,
      healthChecks: 0,
      healthFailures: 0,
      connectionsPeak: undefined,
      survivedCrashes: [],
      exit: undefined,
      internalErrors: [],
      logLevels: {},
      closesLogged: 0,
      connectionsBefore: undefined,
      connectionsAfter: undefined,
      connectionsSettledAfterS: undefined,
    },
    client: client.report(),
    clientCaughtUp: false,
    violations: [],
    failures: [],
  };
  const headerPairs = new Set<string>();
  const validPairs = new Set<string>();
  const inFlight = new Map<number, CaseRecord>();
  const recent: CaseRecord[] = [];
  /** The case running on each local port, and the cases whose bytes back up a log finding. */
  const onPort = new Map<string, number>();
  const evidence = new Map<string, CaseRecord[]>();
  /** The cases in flight and just finished when the proxy logged the first crash it survived. */
  let survivedSuspects: CaseRecord[] | undefined;
  watch.onSurvivedCrash = () => {
    survivedSuspects ??= [...inFlight.values(), ...[...recent].reverse().slice(0, 24)];
  };
  watch.onInternalError = (finding, client) => {
    const n = client ? onPort.get(client) : undefined;
    if (n === undefined) return;
    const list = evidence.get(finding.pattern) ?? [];
    if (list.length >= 3 || list.some((r) => r.n === n)) return;
    const rec = inFlight.get(n) ?? recent.find((r) => r.n === n);
    if (rec) evidence.set(finding.pattern, [...list, rec]);
  };
  let violationCount = 0;
  let refusedWhileAlive = 0;
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);

  const record = (c: FuzzCase, outcome: CaseOutcome | undefined, rec: CaseRecord) => {
    if (!outcome) return;
    const { written, ...rest } = outcome;
    rec.outcome = rest;
    rec.endedAtMs = elapsed();
    rec.writes = written.map((b) => hexOf(b));
    report.cases++;
    const tally = (report.byKind[c.kind] ??= { cases: 0, frames: 0, closedByProxy: 0, responses: 0 });
    tally.cases++;
    if (!outcome.connected) {
      const code = outcome.connectError ?? "unknown";
      report.connectFailures[code] = (report.connectFailures[code] ?? 0) + 1;
      if (code === "ECONNREFUSED" && watch.alive) refusedWhileAlive++;
      return;
    }
    report.connections++;
    report.framesSent += outcome.framesSent;
    report.bytesSent += outcome.bytesSent;
    report.responses += outcome.responses;
    report.unanswered += outcome.unanswered;
    tally.frames += outcome.framesSent;
    tally.responses += outcome.responses;
    if (outcome.closedByProxy) {
      report.closedByProxy++;
      tally.closedByProxy++;
    }
    if (c.pair && outcome.bytesSent > 0) (c.kind === "header" ? headerPairs : validPairs).add(c.pair);
    for (const problem of outcome.violations) {
      violationCount++;
      if (report.violations.length < MAX_VIOLATIONS_KEPT) {
        report.violations.push({ n: c.n, kind: c.kind, detail: c.detail, problem });
      }
      log(
        `protocol violation in case #${c.n} (${c.kind}: ${c.detail.slice(0, 200)}): ${problem.slice(0, 400)}`,
      );
    }
  };

  const runOne = async (n: number) => {
    const c = generateCase(seed, n, targets);
    const rec: CaseRecord = {
      n,
      kind: c.kind,
      detail: c.detail,
      port: c.port,
      ending: c.ending,
      startedAtMs: elapsed(),
      writes: [],
    };
    inFlight.set(n, rec);
    let outcome: CaseOutcome | undefined;
    try {
      outcome = await runCase("127.0.0.1", c, (port) => onPort.set(`127.0.0.1:${port}`, n));
    } finally {
      inFlight.delete(n);
      record(c, outcome, rec);
      recent.push(rec);
      if (recent.length > RECENT_KEPT) recent.shift();
    }
  };

  let consecutiveHealthFailures = 0;
  let hung = false;
  const check = async (): Promise<boolean> => {
    const rss = watch.rssMb();
    if (rss !== undefined) report.proxy.rssPeakMb = Math.max(report.proxy.rssPeakMb ?? 0, rss);
    if (!watch.alive) return false;
    report.proxy.healthChecks++;
    const open = (await adminStatus(env.proxy.adminPort, HEALTH_TIMEOUT_MS))?.connections;
    if (open !== undefined) report.proxy.connectionsPeak = Math.max(report.proxy.connectionsPeak ?? 0, open);
    if (await healthz(env.proxy.adminPort, HEALTH_TIMEOUT_MS)) {
      consecutiveHealthFailures = 0;
      return true;
    }
    if (!watch.alive) return false;
    report.proxy.healthFailures++;
    consecutiveHealthFailures++;
    log(`/healthz did not answer within ${HEALTH_TIMEOUT_MS} ms (${consecutiveHealthFailures} in a row)`);
    if (consecutiveHealthFailures >= 2) {
      hung = true;
      return false;
    }
    return true;
  };

  // The client's connections are all open once it has consumed something: they are the baseline.
  for (let waited = 0; client.consumed === 0 && waited < 30_000; waited += 200) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  report.proxy.connectionsBefore = (await adminStatus(env.proxy.adminPort))?.connections;
  const workers = options.workers ?? 6;
  let nextCase = 0;
  let lastProgress = 0;
  if (options.cases) {
    for (const n of options.cases) {
      log(`replaying case #${n}`);
      await runOne(n);
      await new Promise((resolve) => setTimeout(resolve, 500));
      if (!(await check())) break;
    }
  } else {
    const deadline = performance.now() + options.durationMs;
    while (performance.now() < deadline && watch.alive && !hung) {
      await Promise.all(
        Array.from({ length: workers }, async () => {
          for (let i = 0; i < BATCH_PER_WORKER; i++) {
            if (!watch.alive || performance.now() >= deadline) return;
            await runOne(nextCase++);
          }
        }),
      );
      if (!(await check())) break;
      if (elapsed() - lastProgress >= 10_000) {
        lastProgress = elapsed();
        log(
          `[${Math.round(lastProgress / 1000)} s] cases ${report.cases}, frames ${report.framesSent}, closed by proxy ${report.closedByProxy}, rss ${fmt(watch.rssMb())} MB, client ${client.produced} produced / ${client.consumed} consumed`,
        );
      }
    }
  }
  report.fuzzMs = elapsed();

  report.coverage.header = headerPairs.size;
  report.coverage.valid = validPairs.size;
  const all = PAIRS.map((p) => pairName(p.apiKey, p.version));
  report.coverage.missingHeader = all.filter((p) => !headerPairs.has(p));
  report.coverage.missingValid = all.filter((p) => !validPairs.has(p));

  if (watch.alive && !hung) {
    // Let the client go on a little with the fuzzing over, then drain it.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await client.stopProducing();
    report.clientCaughtUp = await client.waitForAll(90_000);
    // Connections whose clients are gone should close; the well-behaved client's stay.
    const settleStart = performance.now();
    for (;;) {
      report.proxy.connectionsAfter = (await adminStatus(env.proxy.adminPort))?.connections;
      const settled = (report.proxy.connectionsAfter ?? 0) <= (report.proxy.connectionsBefore ?? 0);
      if (settled || performance.now() - settleStart > 30_000) break;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    report.proxy.connectionsSettledAfterS = Math.round((performance.now() - settleStart) / 1000);
  } else {
    await client.stopProducing().catch(() => {});
  }
  report.client = client.report();
  report.proxy.rssEndMb = watch.rssMb();
  if (watch.alive) report.proxy.heapEndMb = await heapUsedMb(env.proxy.adminPort);
  await client.stop();
  report.proxy.exit = watch.exit;
  report.proxy.internalErrors = watch.internalErrors().map((finding) => ({
    ...finding,
    cases: (evidence.get(finding.pattern) ?? []).map((r) => ({ n: r.n, kind: r.kind, detail: r.detail })),
    evidence: evidence.get(finding.pattern) ?? [],
  }));
  report.proxy.logLevels = Object.fromEntries(watch.levels);
  report.proxy.closesLogged = watch.closedConnections;

  report.proxy.survivedCrashes = [...watch.survivedCrashes];
  if ((watch.alive && !hung && survivedSuspects) || (!watch.alive && survivedSuspects && !report.crash)) {
    // A crash its process handlers caught: as much a bug as an exit, reported the same way.
    const reason = `the proxy logged ${watch.survivedCrashes.length} unhandled rejection(s) or uncaught exception(s)${watch.alive ? "" : `, then exited (code ${watch.exit?.code}, signal ${watch.exit?.signal})`}`;
    report.crash = {
      exit: watch.exit,
      reason,
      tail: `${watch.survivedCrashes.join("\n")}\n${watch.tail()}`,
      suspects: survivedSuspects.filter((r) => r.outcome === undefined || r.outcome.connected),
      replay: `npm run fuzz -- --seed ${seed} --replay ${survivedSuspects
        .map((r) => r.n)
        .sort((a, b) => a - b)
        .join(",")}`,
    };
    report.crash.file = writeCrashFile(options.dumpDir, report);
    report.failures.push(reason);
  }
  if (!report.crash && (!watch.alive || hung)) {
    // Give a dying process a moment to print its last words.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const suspects = [...inFlight.values(), ...[...recent].reverse()].filter(
      (r) => r.outcome === undefined || r.outcome.connected,
    );
    const reason = hung
      ? `the proxy (pid ${watch.pid}) stopped answering /healthz`
      : `the proxy exited (code ${watch.exit?.code}, signal ${watch.exit?.signal}) ${watch.exit?.afterMs} ms after it started`;
    report.crash = {
      exit: watch.exit,
      reason,
      tail: watch.tail(),
      suspects,
      replay: `npm run fuzz -- --seed ${seed} --replay ${suspects
        .slice(0, 24)
        .map((s) => s.n)
        .sort((a, b) => a - b)
        .join(",")}`,
    };
    report.crash.file = writeCrashFile(options.dumpDir, report);
    report.failures.push(reason);
  }
  if (violationCount > 0) report.failures.push(`${violationCount} response(s) broke the protocol`);
  if (refusedWhileAlive > 0) {
    report.failures.push(`${refusedWhileAlive} connection(s) refused while the proxy was running`);
  }
  if (report.client.errors.length > 0) {
    report.failures.push(`the well-behaved client saw ${report.client.errors.length} error(s)`);
  } else if (!report.clientCaughtUp && !report.crash) {
    report.failures.push("the well-behaved client did not receive every record it produced");
  }
  if (report.client.produced === 0 && !report.crash)
    report.failures.push("the well-behaved client produced nothing");
  return report;
}

async function heapUsedMb(adminPort: number): Promise<number | undefined> {
  const samples = await scrapeMetrics(adminPort);
  const bytes = samples ? metricSum(samples, "kpp_nodejs_heap_size_used_bytes") : undefined;
  return bytes === undefined ? undefined : bytes / 1024 / 1024;
}

function hexOf(bytes: Buffer): string {
  if (bytes.length <= MAX_WRITE_HEX_BYTES) return bytes.toString("hex");
  return `${bytes.subarray(0, MAX_WRITE_HEX_BYTES).toString("hex")}...(${bytes.length} bytes)`;
}

function writeCrashFile(dir: string | undefined, report: LiveFuzzReport): string | undefined {
  try {
    const out = dir ?? join(tmpdir(), "kpp-fuzz");
    mkdirSync(out, { recursive: true });
    const file = join(out, `crash-seed${report.seed}-${Date.now()}.json`);
    writeFileSync(file, `${JSON.stringify({ ...report, crash: { ...report.crash, file } }, null, 1)}\n`);
    return file;
  } catch {
    return undefined;
  }
}

function fmt(value: number | undefined, digits = 1): string {
  return value === undefined ? "?" : value.toFixed(digits);
}

/** The report as the lines a person reads. */
export function summarize(report: LiveFuzzReport): string[] {
  const lines: string[] = [];
  const p = report.proxy;
  const c = report.client;
  lines.push(
    `seed ${report.seed}: ${report.cases} cases in ${(report.fuzzMs / 1000).toFixed(1)} s: ${report.framesSent} frames (${(report.bytesSent / 1024 / 1024).toFixed(1)} MiB) on ${report.connections} connections, ${report.responses} responses, ${report.closedByProxy} connections closed by the proxy, ${report.unanswered} owed responses not come by the end of their case`,
  );
  const failures = Object.entries(report.connectFailures);
  if (failures.length > 0)
    lines.push(`connect failures: ${failures.map(([k, v]) => `${k} x${v}`).join(", ")}`);
  lines.push(
    `by kind: ${Object.entries(report.byKind)
      .map(([k, t]) => `${k} ${t.cases} (${t.frames} frames, ${t.closedByProxy} closed)`)
      .join("; ")}`,
  );
  lines.push(
    `api/version pairs: ${report.coverage.header}/${report.coverage.pairs} with fuzzed bodies, ${report.coverage.valid}/${report.coverage.pairs} with valid random requests`,
  );
  lines.push(
    `proxy crashes: ${report.crash ? 1 : 0}${report.crash ? ` (${report.crash.reason})` : ""}; rss ${fmt(p.rssStartMb)} MB at the start, ${fmt(p.rssEndMb)} MB at the end, peak ${fmt(p.rssPeakMb)} MB; V8 heap used ${fmt(p.heapStartMb)} -> ${fmt(p.heapEndMb)} MB; /healthz ${p.healthChecks - p.healthFailures}/${p.healthChecks} answered; ${p.closesLogged} client connections closed in its log; client connections open: ${p.connectionsBefore ?? "?"} before the fuzzing (the client's own), at most ${p.connectionsPeak ?? "?"} during it, ${p.connectionsAfter ?? "?"} ${p.connectionsSettledAfterS ?? "?"} s after it; log levels ${JSON.stringify(p.logLevels)}`,
  );
  lines.push(
    `client: ${c.produced} records produced, ${c.consumed} consumed (${c.redelivered} redelivered after ${c.rebalances} group joins), ${c.requestTimeouts} request timeouts, ${c.errors.length} errors; by topic ${JSON.stringify(c.byTopic)}`,
  );
  for (const error of c.errors.slice(0, 10)) lines.push(`  client error: ${error}`);
  if (p.internalErrors.length > 0) {
    lines.push(`proxy log lines that look like internal errors (${p.internalErrors.length} kinds):`);
    for (const f of p.internalErrors.slice(0, 10)) {
      lines.push(`  x${f.count}: ${f.example.slice(0, 600)}`);
      for (const c of f.cases.slice(0, 3)) {
        lines.push(`    on the connection of case #${c.n} (${c.kind}: ${c.detail.slice(0, 300)})`);
      }
      const first = f.evidence[0];
      if (first) {
        lines.push(
          `    bytes of case #${first.n} -> port ${first.port} (${first.ending}), write by write: ${first.writes.map((w) => w.slice(0, 1200)).join(" | ")}`,
        );
      }
    }
  }
  for (const v of report.violations.slice(0, 10)) {
    lines.push(
      `  violation in case #${v.n} (${v.kind}: ${v.detail.slice(0, 160)}): ${v.problem.slice(0, 400)}`,
    );
  }
  if (report.crash) {
    lines.push(`CRASH: ${report.crash.reason}`);
    lines.push(report.crash.tail);
    lines.push(
      `cases in flight or just finished (newest first), every byte in ${report.crash.file ?? "(not written)"}:`,
    );
    for (const s of report.crash.suspects.slice(0, 12)) {
      const first = (s.writes.join("") || "").slice(0, 512);
      lines.push(
        `  #${s.n} ${s.kind} -> port ${s.port}, ${s.ending}${s.endedAtMs === undefined ? " (in flight)" : ""}: ${s.detail.slice(0, 200)}\n    ${first}${first.length >= 512 ? "..." : ""}`,
      );
    }
    lines.push(`reproduce: ${report.crash.replay}`);
  }
  lines.push(report.failures.length === 0 ? "PASS" : `FAIL: ${report.failures.join("; ")}`);
  return lines;
}
