/**
 * Watches a proxy child process (test/helpers/proxy.ts) for the fuzzer and the soak: whether it is alive, its
 * RSS (/proc/<pid>/status), its admin port (/healthz, /metrics, /admin/status), and its log lines: connections
 * it closed for reasons that look like internal errors (a TypeError caught by a safety net) rather than the
 * protocol errors bad input should produce, and whatever it printed to stderr before dying.
 */
import { readFileSync } from "node:fs";
import type { ProxyProcess } from "../../test/helpers/proxy.ts";

/** A field of /proc/<pid>/status in MB ("VmRSS", "VmHWM"); undefined when the process is gone. */
export function statusMb(pid: number, field: "VmRSS" | "VmHWM"): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function get(url: string, timeoutMs: number): Promise<{ status: number; text: string } | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: response.status, text: await response.text() };
  } catch {
    return undefined;
  }
}

/** Whether `/healthz` on the admin port answers 200 within the time given. */
export async function healthz(adminPort: number, timeoutMs = 5_000): Promise<boolean> {
  const response = await get(`http://127.0.0.1:${adminPort}/healthz`, timeoutMs);
  return response?.status === 200;
}

/**
 * The samples of `/metrics` (Prometheus text), keyed by the sample's name with its labels as printed
 * (`kpp_client_connections{listener="bootstrap"}`); undefined when the port does not answer.
 */
export async function scrapeMetrics(
  adminPort: number,
  timeoutMs = 5_000,
): Promise<Map<string, number> | undefined> {
  const response = await get(`http://127.0.0.1:${adminPort}/metrics`, timeoutMs);
  if (response?.status !== 200) return undefined;
  const samples = new Map<string, number>();
  for (const line of response.text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    if (space > 0) samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** The sum of every sample named `name`, whatever its labels. */
export function metricSum(samples: Map<string, number>, name: string): number | undefined {
  let sum: number | undefined;
  for (const [key, value] of samples) {
    if (key === name || key.startsWith(`${name}{`)) sum = (sum ?? 0) + value;
  }
  return sum;
}

export interface AdminNode {
  nodeId: number;
  proxyPort: number | null;
  live: boolean;
}

export interface AdminStatus {
  nodes: AdminNode[];
  connections: number;
}

export async function adminStatus(adminPort: number, timeoutMs = 5_000): Promise<AdminStatus | undefined> {
  const response = await get(`http://127.0.0.1:${adminPort}/admin/status`, timeoutMs);
  if (response?.status !== 200) return undefined;
  return JSON.parse(response.text) as AdminStatus;
}

/** Close reasons (and other log lines) that betray an internal error rather than rejected input. */
const INTERNAL_ERROR =
  /\b(TypeError|RangeError|ReferenceError|SyntaxError|AssertionError|EvalError|AggregateError)\b|is not a function|Cannot read propert|Cannot set propert|is not iterable|Maximum call stack|Invalid array length|ERR_[A-Z_]{4,}|failed to handle a request|cannot encode the|onAccepted failed|onClosed failed|\(.*\.ts:\d+:\d+\)/;

export interface LogFinding {
  /** The message with numbers replaced by N, to group alike lines. */
  pattern: string;
  count: number;
  /** The first line seen in full (cut at 4000 characters). */
  example: string;
  /** The client addresses ("127.0.0.1:40000") of the first connections it was logged for. */
  clients: string[];
}

export interface ProxyExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Milliseconds since the watch started. */
  afterMs: number;
  /** Whether the exit was asked for (stop at the end of a run). */
  expected: boolean;
}

interface LogLine {
  client?: string;
  level?: number;
  msg?: string;
  reason?: string;
  err?: string | { message?: string; stack?: string };
}

/** Log lines of a crash the proxy survived: its process-level handlers caught what would have killed it. */
const SURVIVED_CRASH = /unhandled promise rejection|uncaught exception/i;

/** Follows a proxy process: its exit, its log lines by level, internal errors and the tail of its stderr. */
export class ProxyWatch {
  readonly proxy: ProxyProcess;
  readonly pid: number;
  exit: ProxyExit | undefined;
  /** Log lines by pino level name ("warn", "error", ...). */
  readonly levels = new Map<string, number>();
  /** Client connections the proxy logged closing, by level. */
  closedConnections = 0;
  private readonly findings = new Map<string, LogFinding>();
  private readonly stderrTail: string[] = [];
  private readonly stdoutTail: string[] = [];
  private readonly started = performance.now();
  private stopping = false;
  /** Lines of crashes the proxy survived (unhandled rejections, uncaught exceptions), in full. */
  readonly survivedCrashes: string[] = [];
  /** Called for each line of a survived crash, as it is logged. */
  onSurvivedCrash: ((line: string) => void) | undefined;
  /** Called for each line noted as an internal error, with the client address it names (when it does). */
  onInternalError: ((finding: LogFinding, client: string | undefined) => void) | undefined;
  private partial = { stdout: "", stderr: "" };

  constructor(proxy: ProxyProcess) {
    this.proxy = proxy;
    this.pid = proxy.process.pid!;
    proxy.process.stdout!.on("data", (chunk: Buffer) => this.take("stdout", chunk));
    proxy.process.stderr!.on("data", (chunk: Buffer) => this.take("stderr", chunk));
    proxy.process.once("exit", (code, signal) => {
      this.exit = {
        code,
        signal,
        afterMs: Math.round(performance.now() - this.started),
        expected: this.stopping,
      };
    });
  }

  /** Whether the process died without being asked to. */
  get crashed(): boolean {
    return this.exit !== undefined && !this.exit.expected;
  }

  get alive(): boolean {
    return this.exit === undefined && this.proxy.process.exitCode === null;
  }

  rssMb(): number | undefined {
    return statusMb(this.pid, "VmRSS");
  }

  /** Stops the proxy (SIGTERM, in-flight requests answered first); its exit then counts as expected. */
  async stop(): Promise<number | null> {
    this.stopping = true;
    return this.proxy.stop();
  }

  /** Lines that look like internal errors, most frequent first. */
  internalErrors(): LogFinding[] {
    return [...this.findings.values()].sort((a, b) => b.count - a.count);
  }

  /** The last lines of stderr and of the JSON log, for a crash report. */
  tail(lines = 80): string {
    const err = this.stderrTail.slice(-lines).join("\n");
    const out = this.stdoutTail.slice(-Math.min(lines, 30)).join("\n");
    return `--- proxy stderr (last lines) ---\n${err || "(empty)"}\n--- proxy log (last lines) ---\n${out || "(empty)"}`;
  }

  private take(stream: "stdout" | "stderr", chunk: Buffer): void {
    const text = this.partial[stream] + chunk.toString("utf8");
    const lines = text.split("\n");
    this.partial[stream] = lines.pop() ?? "";
    for (const line of lines) if (line !== "") this.line(stream, line);
  }

  private line(stream: "stdout" | "stderr", line: string): void {
    const tail = stream === "stderr" ? this.stderrTail : this.stdoutTail;
    tail.push(line.length > 4000 ? `${line.slice(0, 4000)}...` : line);
    if (tail.length > 400) tail.splice(0, tail.length - 200);
    let parsed: LogLine | undefined;
    if (line.startsWith("{")) {
      try {
        parsed = JSON.parse(line) as LogLine;
      } catch {}
    }
    if (!parsed) {
      if (stream === "stderr" && !line.trimStart().startsWith("at ")) this.note(line);
      return;
    }
    const level = levelName(parsed.level);
    this.levels.set(level, (this.levels.get(level) ?? 0) + 1);
    if (parsed.msg === "closing client connection") this.closedConnections++;
    const err =
      typeof parsed.err === "object" && parsed.err !== null
        ? (parsed.err.stack ?? parsed.err.message)
        : parsed.err;
    const text = [parsed.msg, parsed.reason, err].filter(Boolean).join(": ");
    if (SURVIVED_CRASH.test(parsed.msg ?? "")) {
      if (this.survivedCrashes.length < 20) this.survivedCrashes.push(text.slice(0, 6000));
      this.onSurvivedCrash?.(text);
    }
    if ((parsed.level ?? 0) >= 50 || INTERNAL_ERROR.test(text)) this.note(text, parsed.client);
  }

  private note(text: string, client?: string): void {
    const pattern = text
      .replace(/\d+/g, "N")
      .replace(/\s+at .*/s, "")
      .slice(0, 300);
    let finding = this.findings.get(pattern);
    if (finding) finding.count++;
    else
      this.findings.set(
        pattern,
        (finding = { pattern, count: 1, example: text.slice(0, 4000), clients: [] }),
      );
    if (client && finding.clients.length < 8) finding.clients.push(client);
    this.onInternalError?.(finding, client);
  }
}

function levelName(level: number | undefined): string {
  switch (level) {
    case 10:
      return "trace";
    case 20:
      return "debug";
    case 30:
      return "info";
    case 40:
      return "warn";
    case 50:
      return "error";
    case 60:
      return "fatal";
    default:
      return String(level);
  }
}
