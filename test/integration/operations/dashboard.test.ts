/**
 * The dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core): while a KafkaJS
 * producer writes to a topic through the proxy, the traffic chart shows a non-zero rate for that topic, and the
 * page shows the cluster's health, the topic's mapping and the client connections. A screenshot is kept in
 * test-results/dashboard.png.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Kafka, logLevel, type Producer } from "kafkajs";
import { type Browser, chromium } from "playwright-core";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { type ProxyProcess, startProxy } from "../../helpers/proxy.ts";
import { waitFor } from "../../helpers/wait.ts";

const CHROMIUM = "/usr/bin/chromium";
const RESULTS = fileURLToPath(new URL("../../../test-results/", import.meta.url));
const PRODUCER_CLIENT_ID = "dashboard-producer";

/** Debian's chromium: installed when missing and the tests run as root, else a clear failure. */
function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's "chromium" package (apt-get install -y chromium)`,
    );
  }
  for (const args of [["update"], ["install", "-y", "--no-install-recommends", "chromium"]]) {
    const result = spawnSync("apt-get", args, {
      stdio: "inherit",
      timeout: 600_000,
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(" ")} failed: cannot install chromium`);
  }
  if (!existsSync(CHROMIUM)) throw new Error(`the chromium package did not install ${CHROMIUM}`);
}

let cluster: KafkaTestCluster;
let proxy: ProxyProcess;
let producer: Producer;
let browser: Browser | undefined;
let producing = true;
let produceLoop: Promise<void> | undefined;

describe("dashboard in headless Chromium", { timeout: 180_000 }, () => {
  let topic: string;

  before(async () => {
    ensureChromium();
    cluster = await useKafkaCluster();
    topic = cluster.uniqueTopic("dashboard");
    await cluster.createTopic(topic, { partitions: 2 });
    proxy = await startProxy({ upstream: cluster.bootstrap });
    producer = new Kafka({
      clientId: PRODUCER_CLIENT_ID,
      brokers: [proxy.bootstrap],
      logLevel: logLevel.NOTHING,
    }).producer();
    await producer.connect();
    produceLoop = (async () => {
      let i = 0;
      while (producing) {
        await producer.send({
          topic,
          acks: -1,
          messages: Array.from({ length: 20 }, () => ({ value: `record-${i++}-${"x".repeat(200)}` })),
        });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  });

  after(async () => {
    producing = false;
    await produceLoop?.catch(() => {});
    await browser?.close();
    await producer?.disconnect().catch(() => {});
    await proxy?.stop();
  });

  test("the charts show the topic being written at a non-zero rate", async () => {
    const page = await browser!.newPage({ viewport: { width: 1400, height: 1100 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(`http://127.0.0.1:${proxy.adminPort}/`);

    const topicLine = page.locator(`svg[data-chart="topics"] polyline[data-topic="${topic}"]`);
    await waitFor(
      `a non-zero produce rate for ${topic} on the chart`,
      async () => {
        if ((await topicLine.count()) === 0) return undefined;
        return Number(await topicLine.getAttribute("data-produce-rate")) > 0 ? true : undefined;
      },
      30_000,
    );
    const produceRate = Number(await topicLine.getAttribute("data-produce-rate"));
    const rate = Number(await topicLine.getAttribute("data-rate"));
    assert.ok(produceRate > 0, `produce rate of ${topic}: ${produceRate}`);
    assert.ok(rate >= produceRate);
    const legendRate = Number(
      await page.locator(`#legend-topics tr[data-topic="${topic}"]`).getAttribute("data-rate"),
    );
    assert.ok(legendRate > 0, "the legend shows the same topic with a rate");

    await page.waitForSelector(`svg[data-chart="clients"] polyline[data-client="${PRODUCER_CLIENT_ID}"]`, {
      timeout: 15_000,
    });
    const clientRate = Number(
      await page
        .locator(`svg[data-chart="clients"] polyline[data-client="${PRODUCER_CLIENT_ID}"]`)
        .getAttribute("data-rate"),
    );
    assert.ok(clientRate > 0, `the producer's rate: ${clientRate}`);

    await page.waitForSelector('#clusters tr[data-cluster="default"][data-reachable="true"]', {
      timeout: 15_000,
    });
    await page.waitForSelector(`#topics tr[data-topic="${topic}"]`, { timeout: 15_000 });
    await page.waitForSelector(`#connections tr[data-client="${PRODUCER_CLIENT_ID}"]`, { timeout: 15_000 });
    assert.equal(await page.locator('#health [data-ready="true"]').count(), 1);

    mkdirSync(RESULTS, { recursive: true });
    await page.screenshot({ path: `${RESULTS}dashboard.png`, fullPage: true });
    assert.ok(existsSync(`${RESULTS}dashboard.png`));
    assert.deepEqual(pageErrors, [], "the page's script raised no error");
    await page.close();
  });
});
