/**
 * Watches an owner process and stops a cluster when the owner dies, even by SIGKILL. It may be started before
 * the cluster exists, so that a cluster whose owner dies mid-start is stopped as well. With `--clusters-under`, the
 * dir holds clusters (the test run's shared ones): every JVM of a cluster below it is stopped.
 * usage: node scripts/kafka/reaper.ts <ownerPid> <ownerStartTime> <clusterDir> [--clusters-under]
 */
import { spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { clusterMarker } from "./cluster.ts";
import { killWithMarker, pidsMentioning, pidsWithMarker, startTime } from "./processes.ts";

/** This file, as it runs: the TypeScript source, or its build under dist/. */
const SCRIPT = fileURLToPath(import.meta.url);

/**
 * Starts a detached reaper that stops the cluster in `dir` (or, `clustersUnder`, every cluster below it) once
 * this process is gone, however it ends.
 */
export function spawnReaper(dir: string, options: { clustersUnder?: boolean } = {}): void {
  const args = [SCRIPT, String(process.pid), startTime(process.pid) ?? "unknown", dir];
  if (options.clustersUnder) args.push("--clusters-under");
  const reaper = spawn(process.execPath, args, { detached: true, stdio: "ignore" });
  reaper.on("error", () => {});
  reaper.unref();
}

const POLL_MS = 500;

/** Polls until the owner is gone (then stops the cluster) or the cluster was stopped normally (then just exits). */
async function reap(ownerPid: number, ownerStartTime: string, dir: string, under: boolean): Promise<void> {
  const marker = clusterMarker(dir);
  const parentMarker = `${marker}/`;
  const state = join(dir, "cluster.json");
  let seenRunning = false;
  for (;;) {
    const exists = existsSync(state);
    if (seenRunning && !exists) return;
    seenRunning ||= exists;
    if (startTime(ownerPid) === ownerStartTime) {
      await sleep(POLL_MS);
      continue;
    }
    if (under) await killWithMarker(pidsMentioning(parentMarker), parentMarker, "SIGKILL", 10_000, true);
    else await killWithMarker(pidsWithMarker(marker), marker);
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    return;
  }
}

async function main(): Promise<void> {
  const [owner, ownerStartTime, dir, mode] = process.argv.slice(2);
  if (!owner || !ownerStartTime || !dir || (mode !== undefined && mode !== "--clusters-under")) {
    process.stderr.write("usage: reaper.ts <ownerPid> <ownerStartTime> <clusterDir> [--clusters-under]\n");
    process.exitCode = 2;
    return;
  }
  await reap(Number(owner), ownerStartTime, dir, mode === "--clusters-under");
}

if (process.argv[1] === SCRIPT) await main();
