/**
 * Connection limits against the real proxy and a real broker: one address cannot take every connection, a
 * length prefix alone does not make the proxy allocate the frame, and refusals are logged at a bounded rate.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { buildConfig } from "../../../src/config/load.ts";
import { ErrorCode } from "../../../src/protocol/api.ts";
import {
  apiVersionsErrorCode,
  apiVersionsRequest,
  type ClientSocket,
  connectFrom,
  futureApiVersionsRequest,
  logLines,
  metric,
  processMemory,
  sleep,
} from "../../helpers/client-sockets.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { type ProxyProcess, startProxy } from "../../helpers/proxy.ts";
import { waitFor } from "../../helpers/wait.ts";

let cluster: KafkaTestCluster;
const proxies: ProxyProcess[] = [];
const sockets: ClientSocket[] = [];

async function openMany(port: number, count: number, from: (i: number) => string): Promise<ClientSocket[]> {
  const opened: ClientSocket[] = [];
  for (let start = 0; start < count; start += 250) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(250, count - start) }, (_, i) => connectFrom(port, from(start + i))),
    );
    opened.push(...batch);
    sockets.push(...batch);
  }
  return opened;
}

function closeAll(list: ClientSocket[]): void {
  for (const client of list) client.socket.destroy();
}

describe("client connection limits", { timeout: 240_000 }, () => {
  before(async () => {
    cluster = await useKafkaCluster();
  });

  after(async () => {
    closeAll(sockets);
    for (const proxy of proxies) await proxy.stop();
  });

  test("by default one address alone cannot lock out the rest (1,500 connections from 127.0.0.1)", async () => {
    const defaults = buildConfig({ kafka: { bootstrap_servers: "k:9092" } });
    assert.equal(defaults.maxConnections, 1000);
    const proxy = await startProxy({ upstream: cluster.bootstrap });
    proxies.push(proxy);

    const flood = await openMany(proxy.port, 1500, () => "127.0.0.1");
    // Every connection the proxy keeps is counted before the other client arrives.
    await waitFor(
      "the flood to settle",
      async () => {
        const open = flood.filter((c) => !c.isClosed).length;
        const gauge = await metric(proxy.adminPort, "kpp_client_connections", 'listener="bootstrap"');
        return gauge === open ? open : undefined;
      },
      20_000,
    );
    const heldByOne = flood.filter((c) => !c.isClosed).length;

    const other = await connectFrom(proxy.port, "127.0.0.2");
    sockets.push(other);
    other.socket.write(apiVersionsRequest(1));
    const answer = await other.nextFrame(10_000);
    assert.equal(apiVersionsErrorCode(answer), ErrorCode.NONE);

    assert.ok(heldByOne < 1000, `127.0.0.1 alone holds ${heldByOne} of max_connections 1000`);
    assert.equal(heldByOne, 500, "the default per-address cap is half of max_connections");
    assert.equal(
      await metric(
        proxy.adminPort,
        "kpp_client_connections_rejected_total",
        'reason="max_connections_per_ip"',
      ),
      1000,
    );

    // 1,000 refusals make at most two lines: the first at once, the rest in one summary at the end of the interval.
    const summary = await waitFor(
      "the refusal summary",
      async () =>
        logLines(proxy.logs()).find((line) => typeof line.refused === "object" && line.refused !== null),
      15_000,
    );
    const refusalLines = logLines(proxy.logs()).filter((line) => /refus/i.test(String(line.msg)));
    assert.ok(
      refusalLines.length <= 2,
      `${refusalLines.length} refusal lines:\n${JSON.stringify(refusalLines)}`,
    );
    const counted = Object.values(summary.refused as Record<string, number>).reduce((a, b) => a + b, 0);
    assert.equal(counted + 1, 1000, JSON.stringify(summary));
    assert.equal((summary.addresses as Record<string, number>)["127.0.0.1"], counted);
    closeAll(flood);
  });

  test("a per-address override and an explicit cap are honoured", async () => {
    const proxy = await startProxy({
      upstream: cluster.bootstrap,
      extra: {
        listen: {
          max_connections: 50,
          max_connections_per_ip: 20,
          max_connections_per_ip_overrides: { "127.0.0.3": 2, "127.0.0.5": 40 },
        },
      },
    });
    proxies.push(proxy);
    const countOpen = async (from: string, count: number) => {
      const list = await openMany(proxy.port, count, () => from);
      await sleep(500);
      const open = list.filter((c) => !c.isClosed).length;
      return { list, open };
    };
    const three = await countOpen("127.0.0.3", 5);
    assert.equal(three.open, 2);
    const four = await countOpen("127.0.0.4", 25);
    assert.equal(four.open, 20);
    const five = await countOpen("127.0.0.5", 40);
    assert.equal(five.open, 28, "the total cap (50) still applies: 50 - 2 - 20");
    closeAll([...three.list, ...four.list, ...five.list]);
    await waitFor("connections to be released", async () =>
      (await metric(proxy.adminPort, "kpp_client_connections", 'listener="bootstrap"')) === 0
        ? true
        : undefined,
    );
    const again = await countOpen("127.0.0.4", 1);
    again.list[0]!.socket.write(apiVersionsRequest(7));
    assert.equal(apiVersionsErrorCode(await again.list[0]!.nextFrame()), ErrorCode.NONE);
  });

  test("10,000 connections each announcing a large frame do not make the proxy allocate the frames", async () => {
    const connections = 10_000;
    const proxy = await startProxy({
      upstream: cluster.bootstrap,
      extra: { listen: { max_connections: 12_000 } },
    });
    proxies.push(proxy);
    const pid = proxy.process.pid!;
    const externalBefore = await metric(proxy.adminPort, "kpp_nodejs_external_memory_bytes");
    const before = processMemory(pid);

    // Each sends one request the proxy answers itself (no broker connection), then the 4-byte length of a
    // frame it never sends: half just under the 2 MiB the reader used to allocate at once, half 100 MiB.
    const announced = [2 * 1024 * 1024 - 64, 100 * 1024 * 1024];
    const clients: ClientSocket[] = [];
    for (let start = 0; start < connections; start += 500) {
      const batch = await openMany(
        proxy.port,
        500,
        (i) => `127.0.${1 + ((start + i) % 20)}.${10 + (Math.floor((start + i) / 20) % 200)}`,
      );
      for (const [i, client] of batch.entries()) {
        const length = Buffer.alloc(4);
        length.writeInt32BE(announced[i % 2]! - 4);
        client.socket.write(Buffer.concat([futureApiVersionsRequest(1), length]));
      }
      clients.push(...batch);
    }
    await waitFor(
      "every connection's answer",
      async () => (clients.every((c) => c.frames.length === 1) ? true : undefined),
      60_000,
    );
    assert.equal(clients.filter((c) => c.isClosed).length, 0);
    await sleep(1000);
    const samples = [processMemory(pid)];
    for (let i = 0; i < 3; i++) {
      await sleep(300);
      samples.push(processMemory(pid));
    }
    const rss = Math.max(...samples.map((s) => s.rss)) - before.rss;
    const data = Math.max(...samples.map((s) => s.data)) - before.data;
    const external = (await metric(proxy.adminPort, "kpp_nodejs_external_memory_bytes")) - externalBefore;
    const MiB = 1024 * 1024;
    const report = `RSS +${(rss / MiB).toFixed(0)} MiB, allocated (VmData) +${(data / MiB).toFixed(0)} MiB, external +${(external / MiB).toFixed(0)} MiB for ${connections} connections`;
    process.stderr.write(`${report}\n`);
    // Bounds: 48 KiB resident and 100 KiB of address space per connection (sockets, connection objects, heap
    // growth), 8 MiB of buffers in all. Allocating each announced frame would be 5,000 x 2 MiB = 10 GiB.
    assert.ok(rss < connections * 48 * 1024, report);
    assert.ok(data < connections * 100 * 1024, report);
    assert.ok(external < 8 * MiB, report);

    // The proxy still serves.
    const probe = await connectFrom(proxy.port, "127.0.9.9");
    sockets.push(probe);
    probe.socket.write(apiVersionsRequest(2));
    assert.equal(apiVersionsErrorCode(await probe.nextFrame()), ErrorCode.NONE);
    closeAll(clients);
  });
});
