import { setTimeout as sleep } from "node:timers/promises";
import { Counter } from "prom-client";
import { AdminError } from "../../admin/routes.ts";
import {
  type ClientConnectionInfo,
  ConnectionStateKey,
  type ExchangeInfo,
  type Feature,
  type RequestContext,
} from "../../feature-api/feature.ts";
import type { FeatureServices } from "../../feature-api/services.ts";
import { ApiKey, type RequestOf, type ResponseOf } from "../../protocol/api.ts";
import { fetchNamesTopic } from "../../protocol/fetch-request-peek.ts";
import { produceNamesTopic } from "../../protocol/produce-request-peek.ts";
import {
  NO_QUOTAS,
  parseQuotas,
  type QuotaDirection,
  type QuotaSettings,
  QuotasConfigError,
} from "./config.ts";
import { QuotaBook, type QuotaFlow } from "./quota-book.ts";
import { refusedFetch, refusedProduce } from "./refusals.ts";
import { QuotaSharingExchange, type UsageReport } from "./sharing.ts";
import { TopicNames } from "./topic-names.ts";

/** A connection's throttle: like Kafka muting a channel, its next limited request waits until then. */
class ConnectionThrottle {
  untilMs = 0;
  /** Settles when the connection's last limited request has been sent on (see `inTurn`). */
  tail: Promise<void> = Promise.resolve();
  /** Set once the connection fetched a limited topic: its fetch session may name it no more, yet returns it. */
  fetchesLimited = false;
}

const nothing = () => {};

const THROTTLE = new ConnectionStateKey("flow-control.throttle", () => new ConnectionThrottle());

/** The flows one request draws on, and what it takes from each. */
interface Draw {
  readonly flows: QuotaFlow[];
  readonly bytes: number[];
}

/**
 * Topic-level flow control: produce and fetch byte rates per topic and per client, answered the way Kafka's own
 * quotas are (KIP-219). The bytes of a request (Produce) or response (Fetch) are taken from each limited flow's
 * token bucket; when that leaves a debt, the response carries the debt as `throttle_time_ms` and the connection's
 * next limited request is held until it is repaid. Clients that honour `throttle_time_ms` wait by themselves and
 * find the gate open; others are held, so neither is slowed twice. In `reject` mode a request arriving while its
 * flow is in debt is not sent on: a Produce is answered with THROTTLING_QUOTA_EXCEEDED, a Fetch without records.
 */
export class FlowControl implements Feature {
  readonly name = "flow-control";
  readonly handlers;
  readonly book: QuotaBook;
  readonly sharing: QuotaSharingExchange;
  private readonly topicNames: TopicNames;
  private readonly throttleSeconds: Counter<"direction" | "quota">;
  private readonly throttledResponses: Counter<"direction" | "quota">;

  constructor(services: FeatureServices) {
    const log = services.log.child({ component: "flow-control" });
    const settings = services.config.quotas ?? NO_QUOTAS;
    this.sharing = new QuotaSharingExchange(settings.sharing, log);
    this.book = new QuotaBook(settings, (key, limit) => this.sharing.shareOf(key, limit));
    this.topicNames = new TopicNames(services.topology.topics);
    const registry = services.metrics.registry;
    this.throttleSeconds = new Counter({
      name: "kafka_proxy_throttle_time_seconds_total",
      help: "Time responses asked clients to wait (throttle_time_ms) for a proxy quota, by direction and quota",
      labelNames: ["direction", "quota"],
      registers: [registry],
    });
    this.throttledResponses = new Counter({
      name: "kafka_proxy_throttled_responses_total",
      help: "Responses throttled (or refused, in reject mode) by a proxy quota, by direction and quota",
      labelNames: ["direction", "quota"],
      registers: [registry],
    });
    this.handlers = {
      [ApiKey.Produce]: {
        wantsRequest: (frame: Buffer, exchange: ExchangeInfo<typeof ApiKey.Produce>) =>
          this.wantsProduce(frame, exchange),
        onRequest: (
          request: RequestOf<typeof ApiKey.Produce>,
          context: RequestContext<typeof ApiKey.Produce>,
        ) => this.produce(request, context),
      },
      [ApiKey.Fetch]: {
        wantsRequest: (frame: Buffer, exchange: ExchangeInfo<typeof ApiKey.Fetch>) =>
          this.wantsFetch(frame, exchange),
        onRequest: (request: RequestOf<typeof ApiKey.Fetch>, context: RequestContext<typeof ApiKey.Fetch>) =>
          this.fetch(request, context),
      },
    };
    this.registerAdmin(services, log);
    services.onReload((reloaded) => {
      const quotas = reloaded.quotas ?? NO_QUOTAS;
      this.replace(quotas);
      log.info({ topics: quotas.topics.length, clients: quotas.clients.size }, "quotas reloaded");
    });
    services.onStop(this.startExchange());
  }

  /** Replaces the quotas in force (a reload, or the admin API). */
  replace(settings: QuotaSettings): void {
    this.sharing.update(settings.sharing);
    this.book.replace(settings, Date.now());
  }

  private nameOfId(id: string): string | undefined {
    return this.topicNames.nameOf(id);
  }

  /** Whether a topic of a request limits `direction`; an id not known yet may, until looked up. */
  private mayLimit(key: string, byId: boolean, direction: QuotaDirection): boolean {
    if (!byId) return this.book.topicRule(key, direction) !== undefined;
    const name = this.topicNames.nameOf(key);
    if (name === undefined) return this.topicNames.needsLookup(key);
    return this.book.topicRule(name, direction) !== undefined;
  }

  private wantsProduce(frame: Buffer, exchange: ExchangeInfo): boolean {
    if (!this.book.limits("produce") || exchange.connection.internal) return false;
    const { connection } = exchange;
    if (this.book.clientRule(connection.clientId, connection.principal, "produce") !== undefined) return true;
    return produceNamesTopic(frame, exchange.apiVersion, (key, byId) => this.mayLimit(key, byId, "produce"));
  }

  private wantsFetch(frame: Buffer, exchange: ExchangeInfo): boolean {
    if (!this.book.limits("fetch") || exchange.connection.internal) return false;
    const { connection } = exchange;
    if (this.book.clientRule(connection.clientId, connection.principal, "fetch") !== undefined) return true;
    const throttle = connection.state(THROTTLE);
    if (throttle.fetchesLimited) return true;
    return fetchNamesTopic(frame, exchange.apiVersion, (key, byId) => this.mayLimit(key, byId, "fetch"));
  }

  /**
   * Runs `step` for a connection's limited requests one at a time, in the order they arrived: a request waiting
   * out its connection's throttle must not be overtaken (an idempotent producer's sequence numbers would break).
   * `step` sends the request on before its turn ends, so the next one follows it to the broker.
   */
  private inTurn<T>(
    connection: ClientConnectionInfo,
    step: (throttle: ConnectionThrottle) => Promise<T>,
  ): Promise<T> {
    const throttle = connection.state(THROTTLE);
    const turn = throttle.tail.then(() => step(throttle));
    throttle.tail = turn.then(nothing, nothing);
    return turn;
  }

  /** Waits while the connection is throttled (throttle mode); answers how long it still is (reject mode). */
  private async waitOut(throttle: ConnectionThrottle): Promise<number> {
    const waitMs = throttle.untilMs - Date.now();
    if (waitMs <= 0) return 0;
    if (this.book.settings.mode === "reject") return waitMs;
    await sleep(waitMs);
    return 0;
  }

  private async produce(
    request: RequestOf<typeof ApiKey.Produce>,
    context: RequestContext<typeof ApiKey.Produce>,
  ): Promise<ResponseOf<typeof ApiKey.Produce> | undefined> {
    const outcome = await this.inTurn(context.connection, async (throttle) => {
      await this.topicNames.resolve(request.topicData.map((topic) => topic.topicId));
      const gated = await this.waitOut(throttle);
      const now = Date.now();
      const draw: Draw = { flows: [], bytes: [] };
      let total = 0;
      for (const topic of request.topicData) {
        let bytes = 0;
        for (const partition of topic.partitionData) bytes += partition.records?.length ?? 0;
        total += bytes;
        const name = topic.name || this.nameOfId(topic.topicId);
        const rule = name === undefined ? undefined : this.book.topicRule(name, "produce");
        if (rule) this.addDraw(draw, this.book.topicFlow(name!, rule, "produce", now), bytes);
      }
      const { clientId, principal } = context.connection;
      const client = this.book.clientRule(clientId, principal, "produce");
      if (client !== undefined) this.addDraw(draw, this.book.clientFlow(client, "produce", now), total);
      if (this.book.settings.mode === "reject") {
        const debtMs = Math.max(gated, this.debtOf(draw, now));
        if (debtMs > 0) {
          this.count(draw, "produce", debtMs, now);
          throttle.untilMs = now + debtMs;
          return { refusal: refusedProduce(request, debtMs) };
        }
      }
      const throttleMs = this.take(draw, "produce", now);
      if (throttleMs > 0) throttle.untilMs = now + throttleMs;
      return { throttleMs, response: context.next(request) };
    });
    if (outcome.refusal) return outcome.refusal;
    const response = await outcome.response;
    if (response && outcome.throttleMs > response.throttleTimeMs)
      response.throttleTimeMs = outcome.throttleMs;
    return response;
  }

  private async fetch(
    request: RequestOf<typeof ApiKey.Fetch>,
    context: RequestContext<typeof ApiKey.Fetch>,
  ): Promise<ResponseOf<typeof ApiKey.Fetch>> {
    const client = this.book.clientRule(context.connection.clientId, context.connection.principal, "fetch");
    const outcome = await this.inTurn(context.connection, async (throttle) => {
      await this.topicNames.resolve(request.topics.map((topic) => topic.topicId));
      if (!throttle.fetchesLimited) {
        for (const topic of request.topics) {
          const name = topic.topic || this.nameOfId(topic.topicId);
          if (name !== undefined && this.book.topicRule(name, "fetch")) throttle.fetchesLimited = true;
        }
      }
      const gated = await this.waitOut(throttle);
      if (this.book.settings.mode === "reject") {
        const now = Date.now();
        const draw: Draw = { flows: [], bytes: [] };
        for (const topic of request.topics) {
          const name = topic.topic || this.nameOfId(topic.topicId);
          const rule = name === undefined ? undefined : this.book.topicRule(name, "fetch");
          if (rule) this.addDraw(draw, this.book.topicFlow(name!, rule, "fetch", now), 0);
        }
        if (client !== undefined) this.addDraw(draw, this.book.clientFlow(client, "fetch", now), 0);
        const debtMs = Math.max(gated, this.debtOf(draw, now));
        if (debtMs > 0) {
          this.count(draw, "fetch", debtMs, now);
          throttle.untilMs = now + debtMs;
          return { refusal: refusedFetch(request, debtMs) };
        }
      }
      // As Kafka caps a fetch at what its quota allows in one window, so one response cannot run far ahead.
      const burst = this.fetchBurstBytes(request, client);
      if (burst !== undefined && request.maxBytes > burst) request.maxBytes = burst;
      return { response: context.next(request) };
    });
    if (outcome.refusal) return outcome.refusal;
    const response = await outcome.response;
    const now = Date.now();
    const draw: Draw = { flows: [], bytes: [] };
    let total = 0;
    for (const topic of response.responses) {
      let bytes = 0;
      for (const partition of topic.partitions) bytes += partition.records?.length ?? 0;
      if (bytes === 0) continue;
      total += bytes;
      const name = topic.topic || this.nameOfId(topic.topicId);
      const rule = name === undefined ? undefined : this.book.topicRule(name, "fetch");
      if (rule) this.addDraw(draw, this.book.topicFlow(name!, rule, "fetch", now), bytes);
    }
    if (client !== undefined && total > 0)
      this.addDraw(draw, this.book.clientFlow(client, "fetch", now), total);
    const throttleMs = this.take(draw, "fetch", now);
    if (throttleMs > 0) {
      context.connection.state(THROTTLE).untilMs = now + throttleMs;
      if (throttleMs > response.throttleTimeMs) response.throttleTimeMs = throttleMs;
    }
    return response;
  }

  /** The smallest burst among the limited flows a fetch names, in bytes. */
  private fetchBurstBytes(
    request: RequestOf<typeof ApiKey.Fetch>,
    client: string | undefined,
  ): number | undefined {
    const now = Date.now();
    let burst: number | undefined;
    const consider = (flow: QuotaFlow) => {
      const bytes = Math.max(1, Math.floor(flow.bucket.bytesPerSecond * this.book.settings.burstSeconds));
      if (burst === undefined || bytes < burst) burst = bytes;
    };
    for (const topic of request.topics) {
      const name = topic.topic || this.nameOfId(topic.topicId);
      const rule = name === undefined ? undefined : this.book.topicRule(name, "fetch");
      if (rule) consider(this.book.topicFlow(name!, rule, "fetch", now));
    }
    if (client !== undefined) consider(this.book.clientFlow(client, "fetch", now));
    return burst;
  }

  private addDraw(draw: Draw, flow: QuotaFlow, bytes: number): void {
    const at = draw.flows.indexOf(flow);
    if (at >= 0) draw.bytes[at]! += bytes;
    else {
      draw.flows.push(flow);
      draw.bytes.push(bytes);
    }
  }

  private debtOf(draw: Draw, now: number): number {
    let debtMs = 0;
    for (const flow of draw.flows) debtMs = Math.max(debtMs, flow.bucket.debtMs(now));
    return debtMs;
  }

  /** Takes a request's bytes from its flows; answers the throttle (the largest debt), counted under its flow. */
  private take(draw: Draw, direction: QuotaDirection, now: number): number {
    let throttleMs = 0;
    let throttling: QuotaFlow | undefined;
    draw.flows.forEach((flow, i) => {
      const flowMs = flow.take(draw.bytes[i]!, now);
      if (flowMs > throttleMs) {
        throttleMs = flowMs;
        throttling = flow;
      }
    });
    if (throttling) this.note(throttling, direction, throttleMs);
    return throttleMs;
  }

  /** Counts a refusal under the flow with the largest debt. */
  private count(draw: Draw, direction: QuotaDirection, throttleMs: number, now: number): void {
    let worst: QuotaFlow | undefined;
    let worstMs = -1;
    for (const flow of draw.flows) {
      const debtMs = flow.bucket.debtMs(now);
      if (debtMs > worstMs) {
        worst = flow;
        worstMs = debtMs;
      }
    }
    if (worst) this.note(worst, direction, throttleMs);
  }

  private note(flow: QuotaFlow, direction: QuotaDirection, throttleMs: number): void {
    flow.noteThrottle(throttleMs);
    this.throttleSeconds.inc({ direction, quota: flow.quota }, throttleMs / 1000);
    this.throttledResponses.inc({ direction, quota: flow.quota });
  }

  /**
   * Closes a usage interval on a timer: publishes this instance's usage, asks the peers for theirs, and reshares.
   * Returns what stops the timer.
   */
  private startExchange(): () => void {
    let last = Date.now();
    let running = false;
    const tick = async () => {
      if (running) return;
      running = true;
      try {
        const now = Date.now();
        const seconds = Math.max(0.001, (now - last) / 1000);
        last = now;
        const usage: Record<string, { rate: number; throttled: boolean }> = {};
        for (const flow of this.book.allFlows()) {
          flow.closeInterval(seconds);
          usage[flow.key] = { rate: flow.recentBytesPerSecond, throttled: flow.recentlyThrottled };
        }
        this.sharing.publish(usage);
        if (this.book.settings.sharing.peers.length > 0) await this.sharing.exchange();
        this.book.reshare(Date.now());
      } finally {
        running = false;
      }
    };
    let interval = this.book.settings.sharing.exchangeIntervalMs;
    let timer = setInterval(tick, interval);
    timer.unref();
    // A reload may change the interval: the timer follows on its next tick.
    const follower = setInterval(() => {
      const wanted = this.book.settings.sharing.exchangeIntervalMs;
      if (wanted === interval) return;
      clearInterval(timer);
      interval = wanted;
      timer = setInterval(tick, interval);
      timer.unref();
    }, 1000).unref();
    return () => {
      clearInterval(timer);
      clearInterval(follower);
    };
  }

  private describe(): unknown {
    const settings = this.book.settings;
    const rates = (r: { produce: number | undefined; fetch: number | undefined }) => ({
      produce_bytes_per_second: r.produce ?? null,
      fetch_bytes_per_second: r.fetch ?? null,
    });
    return {
      mode: settings.mode,
      burst_seconds: settings.burstSeconds,
      topics: Object.fromEntries(settings.topics.map((rule) => [rule.source, rates(rule.rates)])),
      clients: Object.fromEntries([...settings.clients].map(([name, r]) => [name, rates(r)])),
      sharing: {
        peers: settings.sharing.peers,
        instances: settings.sharing.instances,
        exchange_interval_ms: settings.sharing.exchangeIntervalMs,
        peers_reachable: this.sharing.allPeersFresh(Date.now()),
      },
      usage: [...this.book.allFlows()].map((flow) => ({
        flow: flow.key,
        direction: flow.direction,
        quota: flow.quota,
        limit_bytes_per_second: flow.limit,
        share: flow.share,
        bytes_per_second: flow.recentBytesPerSecond,
        bytes_total: flow.bytesTotal,
        throttled_responses: flow.throttledResponses,
        throttle_seconds_total: flow.throttleMsTotal / 1000,
      })),
    };
  }

  private registerAdmin(services: FeatureServices, log: FeatureServices["log"]): void {
    services.admin.get("/api/quotas", () => ({ json: this.describe() }));
    services.admin.get("/api/quotas/usage", () => ({
      json: { usage: this.sharing.report() satisfies UsageReport },
    }));
    services.admin.put("/api/quotas", (request) => {
      let settings: QuotaSettings;
      try {
        settings = parseQuotas(request.body ?? {}, "body");
      } catch (error) {
        if (error instanceof QuotasConfigError) throw new AdminError(400, error.problems.join("; "));
        throw error;
      }
      this.replace(settings);
      log.info(
        { remote: request.actor.remote, topics: settings.topics.length, clients: settings.clients.size },
        "quotas replaced through the admin API",
      );
      return { json: this.describe() };
    });
  }
}

export function createFlowControl(services: FeatureServices): Feature | undefined {
  return new FlowControl(services);
}
