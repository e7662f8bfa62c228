import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

/** The command line of a live process, or undefined when it is gone (or a zombie). */
export function commandLine(pid: number): string | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = status.slice(status.lastIndexOf(")") + 2, status.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return undefined;
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return undefined;
  }
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

export function isAliveWith(pid: number, marker: string): boolean {
  return commandLine(pid)?.includes(marker) ?? false;
}

/** Pids of processes whose command line contains the marker. */
export function pidsWithMarker(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    if (commandLine(pid)?.includes(marker)) pids.push(pid);
  }
  return pids;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {}
}

/** Sends the signal to every pid still carrying the marker, then waits for them to go (SIGKILL after grace). */
export async function killWithMarker(
  pids: number[],
  marker: string,
  how: NodeJS.Signals = "SIGKILL",
  graceMs = 10_000,
): Promise<void> {
  const targets = pids.filter((pid) => isAliveWith(pid, marker));
  for (const pid of targets) signal(pid, how);
  const deadline = Date.now() + graceMs;
  while (targets.some((pid) => isAliveWith(pid, marker))) {
    if (Date.now() > deadline) {
      for (const pid of targets) if (isAliveWith(pid, marker)) signal(pid, "SIGKILL");
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
