/**
 * Drives an out-of-process Kafka client (a Python or Go program) that speaks the suite's JSON contract:
 * one-shot subcommands print one JSON object; `member` streams one JSON event per line until SIGTERM.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

export type FlagValue = string | number | boolean | string[] | undefined;
export type Flags = Record<string, FlagValue>;

/** How one client program is invoked; `seconds` lets each program spell durations its own way. */
export interface DriverProgram {
  name: string;
  command: string;
  argv(subcommand: string, bootstrap: string, timeoutSeconds: number, flags: Flags): string[];
}

export class DriverError extends Error {
  override name = "DriverError";
}

export interface DeliveredRecord {
  key: string;
  value: string;
  partition: number;
  offset: number;
  /** The record's topic; `consume` reports it (it may subscribe to several topics), `produce` and `member` do not. */
  topic?: string;
}

export interface ProduceResult {
  delivered: DeliveredRecord[];
  errors: string[];
  compression: string;
}

export interface BrokerAddress {
  id: number;
  host: string;
  port: number;
}

export interface MetadataResult {
  brokers: BrokerAddress[];
  topics: Record<string, { error: string | null; partitions: Record<string, { leader: number }> }>;
}

export interface GroupPartitionLag {
  topic: string;
  partition: number;
  committed: number;
  end: number;
  lag: number | null;
}

export interface GroupDescription {
  group: string;
  state: string;
  coordinator: BrokerAddress;
  members: { client_id: string; partitions: number[] }[];
  partitions: GroupPartitionLag[];
  total_lag: number;
}

/** Flags as `--name value`; Python's argparse and Go's flag package both read that form. */
export function longFlags(flags: Flags): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(flags)) {
    if (value === undefined || value === false) continue;
    if (value === true) out.push(`--${name}`);
    else if (Array.isArray(value)) for (const item of value) out.push(`--${name}`, item);
    else out.push(`--${name}`, String(value));
  }
  return out;
}

function lastJsonLine(stdout: string): Record<string, unknown> | undefined {
  const lines = stdout.trim().split("\n").filter(Boolean);
  const last = lines.at(-1);
  if (last === undefined) return undefined;
  try {
    return JSON.parse(last) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export class JsonDriver {
  readonly program: DriverProgram;
  readonly bootstrap: string;

  constructor(program: DriverProgram, bootstrap: string) {
    this.program = program;
    this.bootstrap = bootstrap;
  }

  /** Runs one subcommand and returns its JSON answer; the process is killed after `timeoutSeconds` + 15 s. */
  run<T>(subcommand: string, flags: Flags = {}, timeoutSeconds = 30): Promise<T> {
    const argv = this.program.argv(subcommand, this.bootstrap, timeoutSeconds, flags);
    return new Promise<T>((resolve, reject) => {
      const child = spawn(this.program.command, argv, { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), (timeoutSeconds + 15) * 1000);
      child.once("error", (error) => {
        clearTimeout(timer);
        reject(new DriverError(`${this.program.name} ${subcommand}: ${error.message}`));
      });
      child.once("close", (code, signal) => {
        clearTimeout(timer);
        const answer = lastJsonLine(stdout);
        if (code === 0 && answer && !("error" in answer)) {
          resolve(answer as T);
          return;
        }
        const why = answer && "error" in answer ? String(answer.error) : `exited ${code ?? signal}`;
        reject(
          new DriverError(
            `${this.program.name} ${subcommand} ${argv.join(" ")}: ${why}\n--- stderr\n${stderr.split("\n").slice(-30).join("\n")}`,
          ),
        );
      });
    });
  }

  member(name: string, flags: Flags, lifetimeSeconds = 180): GroupMemberProcess {
    const argv = this.program.argv("member", this.bootstrap, lifetimeSeconds, {
      ...flags,
      "client-id": `${this.program.name}-${name}`,
    });
    return new GroupMemberProcess(
      name,
      spawn(this.program.command, argv, { stdio: ["ignore", "pipe", "pipe"] }),
    );
  }
}

export interface MemberEvent {
  event: "started" | "assigned" | "revoked" | "lost" | "record" | "warning" | "error" | "closed";
  partitions?: number[];
  key?: string;
  value?: string;
  partition?: number;
  offset?: number;
  error?: string;
}

/** A group member in its own process; its assignment follows assigned/revoked/lost events (eager or incremental). */
export class GroupMemberProcess {
  readonly name: string;
  readonly events: MemberEvent[] = [];
  readonly records: DeliveredRecord[] = [];
  readonly assignment = new Set<number>();
  /** Every distinct assignment the member held, in order. */
  readonly assignments: number[][] = [];
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;
  private stderr = "";
  private waiters: (() => void)[] = [];

  constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.child = child;
    this.exited = new Promise((resolve) => child.once("close", (code) => resolve(code)));
    child.stderr!.on("data", (chunk: Buffer) => {
      this.stderr += chunk.toString();
      if (this.stderr.length > 200_000) this.stderr = this.stderr.slice(-100_000);
    });
    createInterface({ input: child.stdout! }).on("line", (line) => this.onLine(line));
    this.exited.then(() => this.wake());
  }

  private onLine(line: string): void {
    let event: MemberEvent;
    try {
      event = JSON.parse(line) as MemberEvent;
    } catch {
      return;
    }
    this.events.push(event);
    if (event.event === "assigned") for (const p of event.partitions ?? []) this.assignment.add(p);
    if (event.event === "revoked" || event.event === "lost")
      for (const p of event.partitions ?? []) this.assignment.delete(p);
    if (event.event === "assigned" || event.event === "revoked" || event.event === "lost") {
      const current = this.currentAssignment();
      const previous = this.assignments.at(-1);
      if (!previous || previous.join() !== current.join()) this.assignments.push(current);
    }
    if (event.event === "record") {
      this.records.push({
        key: event.key!,
        value: event.value!,
        partition: event.partition!,
        offset: event.offset!,
      });
    }
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  currentAssignment(): number[] {
    return [...this.assignment].sort((a, b) => a - b);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  errors(): string[] {
    return this.events.filter((e) => e.event === "error").map((e) => e.error ?? "");
  }

  /** Resolves once `condition` holds; fails after `timeoutMs` or when the process exits first. */
  async waitFor(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (!this.running)
        throw new DriverError(`${this.name} exited while waiting for ${what}\n${this.describe()}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new DriverError(
          `${this.name}: timed out after ${timeoutMs} ms waiting for ${what}\n${this.describe()}`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 500));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  waitForAssignment(
    what: string,
    accept: (partitions: number[]) => boolean,
    timeoutMs = 30_000,
  ): Promise<number[]> {
    return this.waitFor(what, () => accept(this.currentAssignment()), timeoutMs).then(() =>
      this.currentAssignment(),
    );
  }

  /** Leaves the group (SIGTERM: the client closes and leaves), killing the process if it does not exit in time. */
  async stop(timeoutMs = 20_000): Promise<number | null> {
    if (this.running) this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  describe(): string {
    const tail = this.events.filter((e) => e.event !== "record").slice(-15);
    return `events: ${JSON.stringify(tail)}\nrecords: ${this.records.length}\nstderr:\n${this.stderr.split("\n").slice(-20).join("\n")}`;
  }
}
