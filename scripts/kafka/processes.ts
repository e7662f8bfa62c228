import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

/** The arguments of a live process, or undefined when it is gone (or a zombie). */
export function commandArguments(pid: number): string[] | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = status.slice(status.lastIndexOf(")") + 2, status.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return undefined;
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return undefined;
  }
}

/** The command line of a live process, arguments joined by spaces. */
export function commandLine(pid: number): string | undefined {
  return commandArguments(pid)?.join(" ");
}

/** The kernel's start time of a live process (clock ticks since boot); with the pid it names one process. */
export function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z" || fields[0] === "X") return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

/** Whether the process is alive and one of its arguments is exactly `marker` (e.g. `-Dkpp.cluster=/tmp/x`). */
export function isAliveWith(pid: number, marker: string): boolean {
  return commandArguments(pid)?.includes(marker) ?? false;
}

/** Pids of processes having `marker` as one of their arguments. */
export function pidsWithMarker(marker: string): number[] {
  return livePids().filter((pid) => commandArguments(pid)?.includes(marker));
}

/** Pids of processes whose command line contains `text` anywhere. */
export function pidsMentioning(text: string): number[] {
  return livePids().filter((pid) => commandLine(pid)?.includes(text));
}

function livePids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (/^\d+$/.test(entry) && Number(entry) !== process.pid) pids.push(Number(entry));
  }
  return pids;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {}
}

/**
 * Sends the signal to every pid still carrying the marker (an exact argument, or with `mentioning`, any part of
 * the command line), then waits for them to go, escalating to SIGKILL after the grace period.
 */
export async function killWithMarker(
  pids: number[],
  marker: string,
  how: NodeJS.Signals = "SIGKILL",
  graceMs = 10_000,
  mentioning = false,
): Promise<void> {
  const carries = (pid: number) =>
    mentioning ? commandLine(pid)?.includes(marker) : isAliveWith(pid, marker);
  const targets = pids.filter(carries);
  for (const pid of targets) signal(pid, how);
  const deadline = Date.now() + graceMs;
  while (targets.some(carries)) {
    if (Date.now() > deadline) {
      for (const pid of targets) if (carries(pid)) signal(pid, "SIGKILL");
      await sleep(100);
      if (Date.now() > deadline + 5000) break;
    }
    await sleep(50);
  }
}

/** Synchronous best effort used from `process.on("exit")`: SIGKILL every pid still carrying the marker. */
export function killWithMarkerSync(pids: number[], marker: string): void {
  for (const pid of pids) if (isAliveWith(pid, marker)) signal(pid, "SIGKILL");
}
