/**
 * Watches an owner process and stops a cluster when the owner dies, even by SIGKILL.
 * usage: node scripts/kafka/reaper.ts <ownerPid> <clusterDir>
 */
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { clusterMarker } from "./cluster.ts";
import { commandLine, killWithMarker, pidsWithMarker } from "./processes.ts";

const POLL_MS = 500;

async function reap(ownerPid: number, dir: string): Promise<void> {
  const ownerCommand = commandLine(ownerPid);
  if (!ownerCommand) return;
  const marker = clusterMarker(dir);
  for (;;) {
    await sleep(POLL_MS);
    if (!existsSync(join(dir, "cluster.json"))) return;
    if (commandLine(ownerPid) === ownerCommand) continue;
    await killWithMarker(pidsWithMarker(marker), marker);
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    return;
  }
}

const [owner, dir] = process.argv.slice(2);
if (!owner || !dir) {
  process.stderr.write("usage: reaper.ts <ownerPid> <clusterDir>\n");
  process.exitCode = 2;
} else {
  await reap(Number(owner), dir);
}
