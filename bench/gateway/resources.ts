import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpuMs } from "./perf-tools.ts";

/** A field of /proc/<pid>/status in kB ("VmRSS", "VmHWM"). */
export function statusKb(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]);
}

export function rssKb(pid: number): number {
  return statusKb(pid, "VmRSS");
}

/** Open file descriptors of a process. */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

let clearRefsPermitted: boolean | undefined;

/** Whether peak RSS is read from VmHWM after a clear_refs reset (else from VmRSS sampled every 100 ms). */
export function peakMethod(): "VmHWM" | "VmRSS sampled every 100 ms" | "unknown" {
  if (clearRefsPermitted === undefined) return "unknown";
  return clearRefsPermitted ? "VmHWM" : "VmRSS sampled every 100 ms";
}

/**
 * The peak RSS of a process over a stretch of work: resets VmHWM by writing "5" to /proc/<pid>/clear_refs and
 * reads it at the end; where that is not permitted, samples VmRSS every 100 ms instead.
 */
export class PeakRss {
  private readonly pid: number;
  private sampled = 0;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(pid: number) {
    this.pid = pid;
    if (clearRefsPermitted !== false) {
      try {
        writeFileSync(`/proc/${pid}/clear_refs`, "5");
        clearRefsPermitted = true;
      } catch {
        clearRefsPermitted = false;
      }
    }
    if (!clearRefsPermitted) {
      this.sample();
      this.timer = setInterval(() => this.sample(), 100);
    }
  }

  private sample(): void {
    try {
      this.sampled = Math.max(this.sampled, rssKb(this.pid));
    } catch {}
  }

  /** Peak RSS in kB since construction. */
  stop(): number {
    if (this.timer) {
      clearInterval(this.timer);
      this.sample();
      return this.sampled;
    }
    return statusKb(this.pid, "VmHWM");
  }
}

export interface Usage {
  cpuMs: number;
  peakRssKb: number;
}

/** Runs `work` and reports the CPU time and peak RSS of process `pid` meanwhile. */
export async function usageDuring<T>(pid: number, work: () => Promise<T>): Promise<{ result: T } & Usage> {
  const peak = new PeakRss(pid);
  const before = cpuMs(pid);
  try {
    const result = await work();
    return { result, cpuMs: cpuMs(pid) - before, peakRssKb: peak.stop() };
  } catch (error) {
    peak.stop();
    throw error;
  }
}
