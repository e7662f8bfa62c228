import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { pidsWithMarker } from "../../../scripts/kafka/processes.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const FIXTURE = join(ROOT, "test/integration/harness/fixtures/cluster-then-trouble.fixture.ts");
const work = mkdtempSync(join(process.env.KPP_TEST_TMP ?? tmpdir(), "teardown-"));

interface Launched {
  child: ChildProcess;
  out: string;
  stdout: () => string;
  exited: Promise<number | null>;
}

function launch(args: string[], mode: "fail" | "hang"): Launched {
  const out = join(mkdtempSync(join(work, "case-")), "cluster.json");
  const env: NodeJS.ProcessEnv = { ...process.env, KPP_FIXTURE_OUT: out, KPP_FIXTURE_MODE: mode };
  delete env.NODE_TEST_CONTEXT;
  // Under run.ts the fixture shares clusters through the nested run's own dir; run alone it starts its own.
  delete env.KPP_SHARED_KAFKA_DIR;
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env,
  });
  let stdout = "";
  child.stdout!.on("data", (chunk) => (stdout += chunk));
  child.stderr!.resume();
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, out, stdout: () => stdout, exited };
}

async function clusterOf(launched: Launched, timeoutMs = 180_000): Promise<{ dir: string; pids: number[] }> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(launched.out)) {
    assert.ok(Date.now() < deadline, "fixture never started its cluster");
    await sleep(200);
  }
  await sleep(100);
  return JSON.parse(readFileSync(launched.out, "utf8"));
}

async function assertGone(dir: string, withinMs: number): Promise<void> {
  const marker = `-Dkpp.cluster=${dir}`;
  const deadline = Date.now() + withinMs;
  while (pidsWithMarker(marker).length > 0 || existsSync(dir)) {
    if (Date.now() > deadline) {
      assert.fail(
        `left behind: pids ${pidsWithMarker(marker).join(",") || "none"}, dir exists: ${existsSync(dir)}`,
      );
    }
    await sleep(250);
  }
}

test("a failing test under npm test leaves no JVM behind and the summary reports the failure", async () => {
  const launched = launch([join(ROOT, "scripts/test/run.ts"), FIXTURE], "fail");
  const code = await launched.exited;
  assert.notEqual(code, 0);
  assert.match(launched.stdout(), /ℹ fail 1/);
  const { dir } = await clusterOf(launched, 1000);
  await assertGone(dir, 5000);
});

test("Ctrl-C during npm test leaves no JVM behind", async () => {
  const launched = launch([join(ROOT, "scripts/test/run.ts"), FIXTURE], "hang");
  const { dir, pids } = await clusterOf(launched);
  assert.ok(pids.length > 0);
  process.kill(-launched.child.pid!, "SIGINT");
  const code = await launched.exited;
  assert.notEqual(code, 0);
  await assertGone(dir, 15_000);
});

test("a test process killed with SIGKILL has its cluster reaped", async () => {
  const launched = launch(["--test", FIXTURE], "hang");
  const { dir } = await clusterOf(launched);
  process.kill(-launched.child.pid!, "SIGKILL");
  await launched.exited;
  await assertGone(dir, 20_000);
});
