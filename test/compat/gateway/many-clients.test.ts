import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ErrorCode } from "../../../src/protocol/api.ts";
import { type Gateway, startGateway } from "./environment.ts";
import {
  apiVersionsKeys,
  apiVersionsRequest,
  metadataBrokers,
  metadataRequest,
  WireConnection,
} from "./wire.ts";

const CONNECTIONS = 200;
const IDLE_SAMPLES = 10;
const MAX_IDLE_GROWTH_KB = 4 * 1024;

function residentKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

async function inBatches<T>(count: number, batch: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let first = 0; first < count; first += batch) {
    const size = Math.min(batch, count - first);
    results.push(...(await Promise.all(Array.from({ length: size }, (_, i) => make(first + i)))));
  }
  return results;
}

describe(`${CONNECTIONS} client connections held at once (Kafka 4.4, 1 broker)`, { timeout: 180_000 }, () => {
  let gateway: Gateway;
  const connections: WireConnection[] = [];

  before(async () => {
    gateway = await startGateway({ brokers: 1 });
  });

  after(async () => {
    for (const connection of connections) connection.close();
    await gateway?.close();
  });

  it("answers ApiVersions and Metadata on every connection, then idles with flat memory", async (t) => {
    const pid = gateway.proxy?.process.pid;
    const rssAtStart = pid ? residentKb(pid) : 0;
    const [proxyHost, proxyPort] = gateway.bootstrap.split(":");

    connections.push(...(await inBatches(CONNECTIONS, 50, () => WireConnection.connect(gateway.bootstrap))));
    const advertised = await inBatches(CONNECTIONS, 50, async (i) => {
      const connection = connections[i]!;
      const versions = apiVersionsKeys(await connection.request(apiVersionsRequest, 20_000));
      assert.equal(versions.errorCode, ErrorCode.NONE);
      return metadataBrokers(await connection.request(metadataRequest, 20_000));
    });
    for (const brokers of advertised) {
      assert.equal(brokers.length, 1);
      assert.equal(brokers[0]!.host, proxyHost);
      if (gateway.proxy)
        assert.notEqual(String(brokers[0]!.port), proxyPort, "a per-broker port, not bootstrap");
    }
    if (!pid) return;

    const rssLoaded = residentKb(pid);
    await sleep(1_000);
    const samples: number[] = [];
    for (let i = 0; i < IDLE_SAMPLES; i++) {
      samples.push(residentKb(pid));
      await sleep(1_000);
    }
    const growth = Math.max(...samples) - samples[0]!;
    t.diagnostic(
      `proxy RSS: ${rssAtStart} kB at start, ${rssLoaded} kB with ${CONNECTIONS} connections, ` +
        `idle samples ${samples.join(", ")} kB (growth ${growth} kB)`,
    );
    assert.ok(growth < MAX_IDLE_GROWTH_KB, `RSS grew ${growth} kB while idle: ${samples.join(", ")}`);

    const stillAnswering = await inBatches(CONNECTIONS, 50, async (i) =>
      apiVersionsKeys(await connections[i]!.request(apiVersionsRequest, 20_000)),
    );
    assert.equal(
      stillAnswering.filter((r) => r.errorCode === ErrorCode.NONE).length,
      CONNECTIONS,
      "every connection held",
    );
  });
});
