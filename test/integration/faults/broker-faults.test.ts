/**
 * Faults on the network between the proxy and the brokers: a TCP fault proxy (test/helpers/fault-proxy.ts)
 * sits between kafka-partition-proxy and a one-broker KRaft cluster, and for each fault (connections reset in
 * the middle of response frames, of request frames, a flapping link, latency, a stall, a stall past the
 * clients' and the proxy's request timeouts, a bandwidth cap), on a plain topic and on a virtualized one
 * (12 on 3), an idempotent Java producer and a Java consumer group run through the proxy while the fault is
 * switched on mid-run and off a few seconds later. Each case prints a JSON summary line on stderr.
 *
 * Every acknowledged record must be consumed, once, from its partition, in order per partition; the physical
 * log (read straight from the broker, past both proxies) must hold each acknowledged record once, where the
 * acknowledgement said; the proxy must still be alive, with no unhandled rejection or uncaught exception.
 *
 * How the fault proxy gets in between: the broker has a third listener, FAULTS, whose advertised address is
 * the fault proxy's port (which forwards to the FAULTS listener's real port). The proxy bootstraps through the
 * fault proxy, so every Metadata and FindCoordinator answer it gets names the fault proxy's port, and all its
 * broker connections go through it. The harness's PLAINTEXT listener (advertised as itself) and the controller
 * listener stay direct: the harness's readiness probe, `readPhysical` and topic creation use them.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { freePorts } from "../../../scripts/kafka/cluster.ts";
import { kafkaClient } from "../../compat/kafkajs/client.ts";
import { type FaultProxy, type FaultStats, startFaultProxy } from "../../helpers/fault-proxy.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { type ProxyProcess, startProxy } from "../../helpers/proxy.ts";
import { readPhysical } from "../virtualization/acceptance-support.ts";
import {
  type CompiledWorkload,
  checkConsumption,
  compileWorkload,
  readResults,
  startWorkload,
} from "./workload.ts";

const VIRTUAL = 12;
const PHYSICAL = 3;
const RECORDS = Number(process.env.KPP_FAULT_RECORDS ?? 5000);
const RATE = 700;
/** The fault goes on once this share of the records is acknowledged. */
const FAULT_AT = 0.3;
const BANDWIDTH = 16_000;
/** The clients' request.timeout.ms, unless a case says otherwise. */
const CLIENT_REQUEST_TIMEOUT_MS = 20_000;

interface FaultCase {
  name: string;
  /** How long the fault stays on. */
  durationMs: number;
  on(faults: FaultProxy): void;
  /**
   * Short timeouts: the clients' request.timeout.ms, and the case runs through a second proxy whose
   * kafka.request_timeout_ms is 1 s (so its own upstream timeouts fire too).
   */
  clientRequestTimeoutMs?: number;
  /** Checks that the fault really bit, from the fault proxy's counters and the producer's progress. */
  bit(
    before: FaultStats,
    after: FaultStats,
    progress: { ackedAtOn: number; ackedAtOff: number; retries: number },
  ): void;
}

function resetCase(direction: "downstream" | "upstream"): FaultCase {
  const frames = direction === "downstream" ? "response" : "request";
  return {
    name: `connections reset in the middle of ${frames} frames for 2 s`,
    durationMs: 2000,
    on: (faults) => faults.resetMidFrame({ direction, forMs: 2000 }),
    bit(before, after, { retries }) {
      const cuts = after.cuts.slice(before.cuts.length);
      assert.ok(after.resets - before.resets > 0, "connections were reset");
      assert.ok(
        cuts.some((cut) => cut.frameSize > 0 && cut.delivered > 4 && cut.delivered < cut.frameSize + 4),
        `some reset cut a ${frames} frame after its size and before its end: ${JSON.stringify(cuts.slice(0, 10))}`,
      );
      assert.ok(retries > 0, "the producer had to retry");
    },
  };
}

const FAULTS: FaultCase[] = [
  resetCase("downstream"),
  resetCase("upstream"),
  {
    name: "a flapping link: 20 bursts of 50 ms of resets both ways over 5 s",
    durationMs: 5200,
    on(faults) {
      for (let burst = 0; burst < 20; burst++) {
        setTimeout(
          () => faults.resetMidFrame({ direction: "both", forMs: 50, settleMs: burst % 3 }),
          burst * 250,
        );
      }
    },
    bit(before, after, { retries }) {
      assert.ok(after.resets - before.resets >= 5, `connections were reset: ${after.resets - before.resets}`);
      assert.ok(retries > 0, "the producer had to retry");
    },
  },
  {
    name: "150-300 ms latency on every chunk both ways for 4 s",
    durationMs: 4000,
    on: (faults) => faults.latency(150, 150, "both"),
    bit(before, after) {
      assert.ok(after.delayedChunks - before.delayedChunks > 20, "chunks were delayed");
    },
  },
  {
    name: "a 4 s stall both ways",
    durationMs: 4000,
    on: (faults) => faults.stall("both"),
    bit(before, after, { ackedAtOn, ackedAtOff }) {
      assert.ok(after.stalledBytes - before.stalledBytes > 0, "bytes queued during the stall");
      // Responses already past the fault proxy may still be acknowledged; nothing new during 4 s.
      assert.ok(ackedAtOff - ackedAtOn <= 200, `acknowledgements stopped: ${ackedAtOn} -> ${ackedAtOff}`);
    },
  },
  {
    name: "a 6 s stall both ways, past the clients' 3 s and the proxy's 1 s request timeouts",
    durationMs: 6000,
    clientRequestTimeoutMs: 3000,
    on: (faults) => faults.stall("both"),
    bit(before, after, { ackedAtOn, ackedAtOff, retries }) {
      assert.ok(after.stalledBytes - before.stalledBytes > 0, "bytes queued during the stall");
      assert.ok(ackedAtOff - ackedAtOn <= 200, `acknowledgements stopped: ${ackedAtOn} -> ${ackedAtOff}`);
      assert.ok(retries > 0, "the producer's requests timed out and were retried");
    },
  },
  {
    name: `a ${BANDWIDTH} B/s bandwidth cap each way for 4 s`,
    durationMs: 4000,
    on: (faults) => faults.bandwidth(BANDWIDTH, "both"),
    bit(before, after) {
      assert.ok(after.throttledWaits - before.throttledWaits > 0, "forwarding waited for bandwidth");
    },
  },
];

/** Counts of the proxy's log lines by level, and its warnings and errors by message (first 12). */
function logSummary(text: string): { levels: Record<string, number>; problems: Record<string, number> } {
  const levels: Record<string, number> = {};
  const problems: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    let entry: { level?: number; msg?: string };
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    const level = String(entry.level);
    levels[level] = (levels[level] ?? 0) + 1;
    if ((entry.level ?? 0) >= 40) {
      const message = String(entry.msg).slice(0, 120);
      if (message in problems || Object.keys(problems).length < 12)
        problems[message] = (problems[message] ?? 0) + 1;
    }
  }
  return { levels, problems };
}

describe("faults between the proxy and the broker", { timeout: 540_000 }, () => {
  let faults: FaultProxy;
  let cluster: KafkaTestCluster;
  let proxy: ProxyProcess;
  /** The same, with kafka.request_timeout_ms 1000. */
  let impatientProxy: ProxyProcess;
  let workload: CompiledWorkload;
  let faultListener: number;

  before(async () => {
    [faultListener] = (await freePorts(1)) as [number];
    faults = await startFaultProxy([{ host: "127.0.0.1", port: faultListener }]);
    const faultPort = faults.links[0]!.port;
    const compiling = compileWorkload();
    // exclusive: its listeners lead to this file's own fault proxy, so no other file could use it
    cluster = await useKafkaCluster({
      brokers: 1,
      exclusive: true,
      brokerProperties: {
        listeners: `PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port},FAULTS://127.0.0.1:${faultListener}`,
        "advertised.listeners": `PLAINTEXT://127.0.0.1:{port},FAULTS://127.0.0.1:${faultPort}`,
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,FAULTS:PLAINTEXT",
      },
    });
    const mapping = {
      topics: { "faults-v-.*": { virtual_partitions: VIRTUAL, physical_partitions: PHYSICAL } },
    };
    proxy = await startProxy({ upstream: `127.0.0.1:${faultPort}`, extra: { mapping } });
    impatientProxy = await startProxy({
      upstream: `127.0.0.1:${faultPort}`,
      extra: {
        mapping,
        kafka: {
          bootstrap_servers: [`127.0.0.1:${faultPort}`],
          metadata_refresh_interval_secs: 5,
          request_timeout_ms: 1000,
        },
      },
    });
    workload = await compiling;
  });

  after(async () => {
    await proxy?.stop();
    await impatientProxy?.stop();
    await faults?.close();
    if (workload) rmSync(workload.directory, { recursive: true, force: true });
  });

  it("the proxies reach the broker only through the fault proxy", async () => {
    const faultPort = faults.links[0]!.port;
    const brokerPort = cluster.brokers[0]!.port;
    for (const instance of [proxy, impatientProxy]) {
      const status = await fetch(`http://127.0.0.1:${instance.adminPort}/admin/status`).then((r) => r.text());
      assert.match(
        status,
        new RegExp(`127\\.0\\.0\\.1:${faultPort}\\b`),
        `upstream via the fault proxy: ${status}`,
      );
      assert.doesNotMatch(status, new RegExp(`:${brokerPort}\\b`), "never the broker's own port");
    }
    assert.ok(faults.stats().bytes.downstream > 0, "the proxies' metadata came through the fault proxy");
  });

  for (const kind of ["plain", "virtual"] as const) {
    for (const fault of FAULTS) {
      it(`${kind} topic: ${fault.name}`, async () => {
        await runCase(kind, fault);
      });
    }
  }

  async function createTopic(topic: string): Promise<void> {
    const admin = kafkaClient(cluster.bootstrap, "faults-admin").admin();
    await admin.connect();
    try {
      await admin.createTopics({
        topics: [{ topic, numPartitions: PHYSICAL, replicationFactor: 1 }],
        waitForLeaders: true,
      });
    } finally {
      await admin.disconnect();
    }
  }

  async function runCase(kind: "plain" | "virtual", fault: FaultCase): Promise<void> {
    const topic = cluster.uniqueTopic(kind === "plain" ? "faults-p" : "faults-v");
    const through = fault.clientRequestTimeoutMs === undefined ? proxy : impatientProxy;
    await createTopic(topic);
    const started = Date.now();
    const statsBefore = faults.stats();
    const logStart = through.logs().length;
    const run = startWorkload(workload, {
      bootstrap: through.bootstrap,
      requestTimeoutMs: fault.clientRequestTimeoutMs ?? CLIENT_REQUEST_TIMEOUT_MS,
      topic,
      group: `${topic}-group`,
      count: RECORDS,
      rate: RATE,
      quietMs: 2000,
      drainMs: 45_000,
    });
    const guard = setTimeout(() => run.kill(), 120_000);
    let ackedAtOn = 0;
    let ackedAtOff = 0;
    let statsOn: FaultStats;
    let statsOff: FaultStats;
    try {
      await run.waitFor((line) => line === "ready", 60_000);
      const threshold = Math.floor((RECORDS * FAULT_AT) / 100) * 100;
      await run.waitFor((line) => line === `acked ${threshold}`, 60_000);
      statsOn = faults.stats();
      fault.on(faults);
      await sleep(500);
      ackedAtOn = run.acked();
      await sleep(fault.durationMs - 500);
      ackedAtOff = run.acked();
      // Before clear(): it lets out what the fault held back at once.
      statsOff = faults.stats();
      faults.clear();
      const code = await run.exited;
      assert.equal(code, 0, `workload failed:\n${run.lines.slice(-20).join("\n")}\n${run.stderr()}`);
    } finally {
      clearTimeout(guard);
      faults.clear();
      run.kill();
    }
    const statsAfter = faults.stats();
    const { acked, errors, consumed } = readResults(run.dir);
    const events = run.lines.filter((line) => line.startsWith("event "));
    const retries = Number(run.lines.find((line) => line.startsWith("retries "))?.slice(8));
    const report = checkConsumption(acked, consumed);
    const physical = await readPhysical(cluster, topic);
    const stored = physical.records.flat();
    const copies = new Map<string, typeof stored>();
    for (const record of stored) {
      const list = copies.get(record.value!);
      if (list) list.push(record);
      else copies.set(record.value!, [record]);
    }
    const storedTwice = [...copies.entries()].filter(([, list]) => list.length > 1);
    const missingOrMoved = acked.filter((a) => {
      const at = copies.get(`s-${a.index}`)?.find((r) => r.offset === a.offset);
      if (!at) return true;
      if (kind === "plain") return at.partition !== a.partition;
      return at.partition !== a.partition % PHYSICAL || at.marker !== a.partition;
    });
    const summary = {
      case: `${kind}: ${fault.name}`,
      seconds: (Date.now() - started) / 1000,
      acknowledged: acked.length,
      producerErrors: errors.length,
      producerRetries: retries,
      ackedDuringFault: `${ackedAtOn} -> ${ackedAtOff}`,
      consumed: consumed.length,
      lost: report.lost.length,
      duplicates: report.duplicates.length,
      misplaced: report.misplaced.length,
      outOfOrder: report.outOfOrder.length,
      unacknowledgedConsumed: report.unacknowledgedConsumed,
      stored: stored.length,
      storedTwice: storedTwice.length,
      missingOrMovedInLog: missingOrMoved.length,
      faultProxy: {
        resets: statsAfter.resets - statsBefore.resets,
        accepted: statsAfter.accepted - statsBefore.accepted,
        bytesUp: statsAfter.bytes.upstream - statsBefore.bytes.upstream,
        bytesDown: statsAfter.bytes.downstream - statsBefore.bytes.downstream,
      },
      events: events.slice(0, 12),
      proxyLog: logSummary(through.logs().slice(logStart)),
      firstErrors: errors.slice(0, 3),
    };
    process.stderr.write(`${JSON.stringify(summary)}\n`);

    // The consumer saw the topic's partitions as the proxy shows them: V for a virtualized topic.
    const assigned = events.find((line) => line.startsWith("event assigned "));
    assert.equal(
      assigned,
      `event assigned ${kind === "plain" ? PHYSICAL : VIRTUAL}`,
      "the group's first assignment",
    );
    // The traffic really went through the fault proxy, and the fault really bit.
    assert.ok(
      summary.faultProxy.bytesUp > RECORDS * 4,
      `produced bytes went through the fault proxy (${summary.faultProxy.bytesUp} bytes up)`,
    );
    assert.ok(
      summary.faultProxy.bytesDown > RECORDS * 4,
      `fetched bytes went through the fault proxy (${summary.faultProxy.bytesDown} bytes down)`,
    );
    fault.bit(statsOn!, statsOff!, { ackedAtOn, ackedAtOff, retries });
    if (fault.name.includes("bandwidth")) {
      const seconds = fault.durationMs / 1000;
      for (const direction of ["upstream", "downstream"] as const) {
        const moved = statsOff!.bytes[direction] - statsOn!.bytes[direction];
        assert.ok(
          moved <= BANDWIDTH * seconds * 1.25 + 8192,
          `${direction}: ${moved} bytes in ${seconds} s under a ${BANDWIDTH} B/s cap`,
        );
      }
    }

    // The producer got through: most records acknowledged (the rest reported above).
    assert.ok(
      acked.length >= RECORDS * 0.9,
      `acknowledged ${acked.length}/${RECORDS}: ${errors.slice(0, 3)}`,
    );
    // Every acknowledged record consumed, once, from its partition, in order.
    const show = (items: unknown[]) => JSON.stringify(items.slice(0, 10));
    assert.equal(report.lost.length, 0, `acknowledged but never consumed: ${show(report.lost)}`);
    assert.equal(report.duplicates.length, 0, `consumed twice: ${show(report.duplicates)}; events ${events}`);
    assert.equal(report.misplaced.length, 0, `consumed from another partition: ${show(report.misplaced)}`);
    assert.equal(report.outOfOrder.length, 0, `out of order: ${show(report.outOfOrder)}`);
    // The physical log: each record once, every acknowledged one where its acknowledgement said.
    assert.equal(
      storedTwice.length,
      0,
      `stored twice in the physical log: ${show(storedTwice.map(([value, list]) => ({ value, at: list.map((r) => `${r.partition}/${r.offset} pid ${r.producerId} seq ${r.sequence}`) })))}`,
    );
    assert.equal(
      missingOrMoved.length,
      0,
      `acknowledged but not in the log as acknowledged: ${show(missingOrMoved)}`,
    );
    // The proxy survived.
    assert.equal(through.process.exitCode, null, `proxy exited:\n${through.logs().slice(-3000)}`);
    assert.equal(through.process.signalCode, null);
    const health = await fetch(`http://127.0.0.1:${through.adminPort}/healthz`);
    assert.equal(health.status, 200);
    // ... and met no bug of its own on the way (unhandled rejections are served through, but counted).
    const metrics = await fetch(`http://127.0.0.1:${through.adminPort}/metrics`).then((r) => r.text());
    assert.match(
      metrics,
      /^# TYPE kpp_process_errors_total counter$/m,
      "the proxy counts its process errors",
    );
    const processErrors = metrics
      .split("\n")
      .filter((line) => line.startsWith("kpp_process_errors_total"))
      .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
    assert.equal(
      processErrors,
      0,
      `unhandled rejections or uncaught exceptions in the proxy:\n${through
        .logs()
        .split("\n")
        .filter((line) => /"level":(50|60)/.test(line))
        .slice(0, 5)
        .join("\n")}`,
    );
    rmSync(run.dir, { recursive: true, force: true });
  }
});
