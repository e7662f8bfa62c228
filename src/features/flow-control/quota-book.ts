import type { QuotaDirection, QuotaRates, QuotaSettings, TopicQuota } from "./config.ts";
import { TokenBucket } from "./token-bucket.ts";

/** One limited flow: a direction of one topic (under the rule it matched), or of one client. */
export class QuotaFlow {
  /** `produce topic:orders` or `fetch client:etl`: the key instances exchange usage under. */
  readonly key: string;
  readonly direction: QuotaDirection;
  /** The rule's name, as metrics label it: `topic:<pattern>` or `client:<name>`. */
  readonly quota: string;
  limit: number;
  /** This instance's part of the limit (1 alone; shares follow demand across instances). */
  share = 1;
  readonly bucket: TokenBucket;
  bytesTotal = 0;
  throttledResponses = 0;
  throttleMsTotal = 0;
  /** Bytes and throttles since the last usage exchange, and the rate they made then. */
  intervalBytes = 0;
  intervalThrottled = false;
  recentBytesPerSecond = 0;
  recentlyThrottled = false;

  constructor(
    key: string,
    direction: QuotaDirection,
    quota: string,
    limit: number,
    share: number,
    burstSeconds: number,
    nowMs: number,
  ) {
    this.key = key;
    this.direction = direction;
    this.quota = quota;
    this.limit = limit;
    this.share = share;
    const rate = limit * share;
    this.bucket = new TokenBucket(rate, rate * burstSeconds, nowMs);
  }

  /** Takes `bytes`; answers the throttle in milliseconds. */
  take(bytes: number, nowMs: number): number {
    this.bytesTotal += bytes;
    this.intervalBytes += bytes;
    return this.bucket.take(bytes, nowMs);
  }

  noteThrottle(throttleMs: number): void {
    this.throttledResponses++;
    this.throttleMsTotal += throttleMs;
    this.intervalThrottled = true;
  }

  reshape(limit: number, share: number, burstSeconds: number, nowMs: number): void {
    this.limit = limit;
    this.share = share;
    const rate = limit * share;
    this.bucket.reshape(rate, rate * burstSeconds, nowMs);
  }

  /** Closes the usage interval of `seconds`. */
  closeInterval(seconds: number): void {
    this.recentBytesPerSecond = this.intervalBytes / seconds;
    this.recentlyThrottled = this.intervalThrottled;
    this.intervalBytes = 0;
    this.intervalThrottled = false;
  }
}

/** Topic names whose rule is remembered; past it the cache starts over (names of deleted topics go too). */
const MAX_CACHED_TOPICS = 100_000;

/** Per topic name: the rule it matched, decided once (null: no rule). */
type TopicDecision = TopicQuota | null;

/**
 * The quotas in force and their flows. Which rule a topic takes is decided once per topic name and cached, so a
 * request for an unlimited topic costs a map lookup.
 */
export class QuotaBook {
  private current: QuotaSettings;
  private readonly decisions = new Map<string, TopicDecision>();
  private readonly flows = new Map<string, QuotaFlow>();
  private readonly shareOf: (key: string, limit: number) => number;
  private limitsProduce = false;
  private limitsFetch = false;

  constructor(settings: QuotaSettings, shareOf: (key: string, limit: number) => number = () => 1) {
    this.current = settings;
    this.shareOf = shareOf;
    this.summarize();
  }

  get settings(): QuotaSettings {
    return this.current;
  }

  /** Whether some rule limits `direction` at all: false lets every request of it pass untouched. */
  limits(direction: QuotaDirection): boolean {
    return direction === "produce" ? this.limitsProduce : this.limitsFetch;
  }

  /** Replaces the rules; flows of rules still there keep their budget and counters. */
  replace(settings: QuotaSettings, nowMs: number): void {
    this.current = settings;
    this.decisions.clear();
    this.summarize();
    for (const [key, flow] of this.flows) {
      const limit = this.limitOf(flow);
      if (limit === undefined) this.flows.delete(key);
      else flow.reshape(limit, this.shareOf(key, limit), settings.burstSeconds, nowMs);
    }
  }

  /** The rule of `topic`, if it has one limiting `direction`. */
  topicRule(topic: string, direction: QuotaDirection): TopicQuota | undefined {
    let decision = this.decisions.get(topic);
    if (decision === undefined) {
      if (this.decisions.size >= MAX_CACHED_TOPICS) this.decisions.clear();
      decision = this.current.topics.find((rule) => rule.pattern.test(topic)) ?? null;
      this.decisions.set(topic, decision);
    }
    return decision !== null && decision.rates[direction] !== undefined ? decision : undefined;
  }

  /** The client rule of a connection (by client id, else principal) limiting `direction`, if any. */
  clientRule(
    clientId: string | null,
    principal: string | undefined,
    direction: QuotaDirection,
  ): string | undefined {
    const clients = this.current.clients;
    if (clients.size === 0) return undefined;
    if (clientId !== null && clients.get(clientId)?.[direction] !== undefined) return clientId;
    if (principal !== undefined && clients.get(principal)?.[direction] !== undefined) return principal;
    return undefined;
  }

  topicFlow(topic: string, rule: TopicQuota, direction: QuotaDirection, nowMs: number): QuotaFlow {
    return this.flow(`${direction} topic:${topic}`, direction, `topic:${rule.source}`, rule.rates, nowMs);
  }

  clientFlow(client: string, direction: QuotaDirection, nowMs: number): QuotaFlow {
    const rates = this.current.clients.get(client)!;
    return this.flow(`${direction} client:${client}`, direction, `client:${client}`, rates, nowMs);
  }

  allFlows(): IterableIterator<QuotaFlow> {
    return this.flows.values();
  }

  /** Sets each flow's share anew (after a usage exchange). */
  reshare(nowMs: number): void {
    for (const [key, flow] of this.flows) {
      const share = this.shareOf(key, flow.limit);
      if (share !== flow.share) flow.reshape(flow.limit, share, this.current.burstSeconds, nowMs);
    }
  }

  private flow(
    key: string,
    direction: QuotaDirection,
    quota: string,
    rates: QuotaRates,
    nowMs: number,
  ): QuotaFlow {
    let flow = this.flows.get(key);
    if (!flow) {
      flow = new QuotaFlow(
        key,
        direction,
        quota,
        rates[direction]!,
        this.shareOf(key, rates[direction]!),
        this.current.burstSeconds,
        nowMs,
      );
      this.flows.set(key, flow);
    }
    return flow;
  }

  private limitOf(flow: QuotaFlow): number | undefined {
    const name = flow.quota.slice(flow.quota.indexOf(":") + 1);
    if (flow.quota.startsWith("client:")) return this.current.clients.get(name)?.[flow.direction];
    const topic = flow.key.slice(flow.key.indexOf(":") + 1);
    const rule = this.topicRule(topic, flow.direction);
    return rule && rule.source === name ? rule.rates[flow.direction] : undefined;
  }

  private summarize(): void {
    const all = [...this.current.topics.map((rule) => rule.rates), ...this.current.clients.values()];
    this.limitsProduce = all.some((rates) => rates.produce !== undefined);
    this.limitsFetch = all.some((rates) => rates.fetch !== undefined);
  }
}
