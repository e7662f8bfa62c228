import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { freePorts, start, status, stop } from "../../../scripts/kafka/cluster.ts";

const dir = join(mkdtempSync(join(process.env.KPP_TEST_TMP ?? tmpdir(), "collision-")), "cluster");
let squatter: Server | undefined;

after(async () => {
  squatter?.close();
  await stop(dir);
});

test("a broker whose port is taken is restarted on other ports", async () => {
  squatter = createServer();
  await new Promise<void>((resolve) => squatter!.listen(0, "127.0.0.1", resolve));
  const taken = (squatter.address() as { port: number }).port;
  const attempts: number[] = [];
  const lines: string[] = [];
  const info = await start({
    dir,
    log: (line) => lines.push(line),
    choosePorts: async (count, attempt) => {
      attempts.push(attempt);
      const ports = await freePorts(count);
      return attempt === 1 ? [taken, ...ports.slice(1)] : ports;
    },
  });
  assert.deepEqual(attempts, [1, 2]);
  assert.notEqual(info.brokers[0]!.port, taken);
  assert.ok(
    lines.some((line) => /could not bind.*retrying/.test(line)),
    lines.join("\n"),
  );
  assert.equal(status(dir).running, true);
});
