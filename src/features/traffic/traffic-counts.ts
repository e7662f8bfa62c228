import type { Registry } from "prom-client";
import { TalliedCounter, type Tally } from "../../admin/tallies.ts";

/** The window `/api/traffic` averages over, in seconds. */
export const WINDOW_SECONDS = 60;
/** Where topics, client ids and principals past the label caps are counted. */
export const OTHER = "other";

const PRODUCE_BYTES = 0;
const PRODUCE_RECORDS = 1;
const FETCH_BYTES = 2;
const FETCH_RECORDS = 3;
const QUANTITIES = 4;

export interface DirectionRates {
  bytesPerSecond: number;
  recordsPerSecond: number;
}

export interface TrafficRates {
  produce: DirectionRates;
  fetch: DirectionRates;
}

/** Bytes and records of the last `WINDOW_SECONDS`, in a ring of one-second buckets filled in place. */
class RateWindow {
  private readonly stamps = new Float64Array(WINDOW_SECONDS).fill(-1);
  private readonly values = new Float64Array(WINDOW_SECONDS * QUANTITIES);

  add(second: number, quantity: number, bytes: number, records: number): void {
    const slot = second % WINDOW_SECONDS;
    const base = slot * QUANTITIES;
    if (this.stamps[slot] !== second) {
      this.stamps[slot] = second;
      this.values.fill(0, base, base + QUANTITIES);
    }
    this.values[base + quantity]! += bytes;
    this.values[base + quantity + 1]! += records;
  }

  rates(second: number): TrafficRates {
    const sums = [0, 0, 0, 0];
    for (let slot = 0; slot < WINDOW_SECONDS; slot++) {
      const stamp = this.stamps[slot]!;
      if (stamp <= second - WINDOW_SECONDS || stamp > second) continue;
      for (let q = 0; q < QUANTITIES; q++) sums[q]! += this.values[slot * QUANTITIES + q]!;
    }
    const rate = (q: number) => sums[q]! / WINDOW_SECONDS;
    return {
      produce: { bytesPerSecond: rate(PRODUCE_BYTES), recordsPerSecond: rate(PRODUCE_RECORDS) },
      fetch: { bytesPerSecond: rate(FETCH_BYTES), recordsPerSecond: rate(FETCH_RECORDS) },
    };
  }
}

/** The counter children and rates of one label set. */
export class TrafficEntry {
  private readonly tallies: Tally[];
  private readonly window = new RateWindow();

  constructor(tallies: Tally[]) {
    this.tallies = tallies;
  }

  produced(second: number, bytes: number, records: number): void {
    this.tallies[PRODUCE_BYTES]!.pending += bytes;
    this.tallies[PRODUCE_RECORDS]!.pending += records;
    this.window.add(second, PRODUCE_BYTES, bytes, records);
  }

  fetched(second: number, bytes: number, records: number): void {
    this.tallies[FETCH_BYTES]!.pending += bytes;
    this.tallies[FETCH_RECORDS]!.pending += records;
    this.window.add(second, FETCH_BYTES, bytes, records);
  }

  rates(second: number): TrafficRates {
    return this.window.rates(second);
  }
}

export interface TopicTraffic extends TrafficRates {
  topic: string;
  cluster: string;
}

export interface ClientTraffic extends TrafficRates {
  clientId: string;
  principal: string | null;
}

/** The four counters of one label dimension: produce bytes and records, fetch bytes and records. */
function counterSet(
  registry: Registry,
  prefix: string,
  labelNames: string[],
  subject: string,
): TalliedCounter[] {
  const counter = (name: string, help: string) =>
    new TalliedCounter(registry, `${prefix}${name}`, help, labelNames);
  return [
    counter(
      "produce_bytes_total",
      `Bytes of record batches in Produce requests, as the client sent them (batch headers included), ${subject}`,
    ),
    counter(
      "produce_records_total",
      `Records in Produce requests (the record counts of their batch headers), ${subject}`,
    ),
    counter(
      "fetch_bytes_total",
      `Bytes of complete record batches in Fetch responses, as the client received them (batch headers included), ${subject}`,
    ),
    counter(
      "fetch_records_total",
      `Records of the complete batches in Fetch responses (the record counts of their batch headers), ${subject}`,
    ),
  ];
}

/**
 * Produce and fetch traffic per topic (and its upstream cluster) and per client id and principal, with the
 * number of distinct topics and clients capped: past the cap a new one counts under `other`.
 */
export class TrafficCounts {
  private readonly topicCounters: TalliedCounter[];
  private readonly clientCounters: TalliedCounter[];
  /** Cluster, then topic name. */
  private readonly topics = new Map<string, Map<string, TrafficEntry>>();
  private topicCount = 0;
  /** Principal ("" for none), then client id ("" for none). */
  private readonly clients = new Map<string, Map<string, TrafficEntry>>();
  private clientCount = 0;
  private maxTopics: number;
  private maxClients: number;

  constructor(registry: Registry, maxTopics: number, maxClients: number) {
    this.topicCounters = counterSet(
      registry,
      "kafka_proxy_",
      ["topic", "cluster"],
      `by topic (as clients name it; "${OTHER}" past metrics.max_topic_labels) and upstream cluster`,
    );
    this.clientCounters = counterSet(
      registry,
      "kafka_proxy_client_",
      ["client_id", "principal"],
      `by client id and principal ("" when none; "${OTHER}" past metrics.max_client_labels)`,
    );
    this.maxTopics = maxTopics;
    this.maxClients = maxClients;
  }

  setLimits(maxTopics: number, maxClients: number): void {
    this.maxTopics = maxTopics;
    this.maxClients = maxClients;
  }

  topic(name: string, cluster: string): TrafficEntry {
    let byName = this.topics.get(cluster);
    if (!byName) this.topics.set(cluster, (byName = new Map()));
    let entry = byName.get(name);
    if (entry) return entry;
    if (this.topicCount >= this.maxTopics) name = OTHER;
    entry = byName.get(name);
    if (!entry) {
      const labels = [name, cluster];
      entry = new TrafficEntry(this.topicCounters.map((counter) => counter.tally(...labels)));
      byName.set(name, entry);
      if (name !== OTHER) this.topicCount++;
    }
    return entry;
  }

  client(clientId: string, principal: string): TrafficEntry {
    let byId = this.clients.get(principal);
    let entry = byId?.get(clientId);
    if (entry) return entry;
    if (this.clientCount >= this.maxClients) {
      clientId = OTHER;
      principal = OTHER;
      byId = this.clients.get(principal);
      entry = byId?.get(clientId);
      if (entry) return entry;
    }
    if (!byId) this.clients.set(principal, (byId = new Map()));
    const labels = [clientId, principal];
    entry = new TrafficEntry(this.clientCounters.map((counter) => counter.tally(...labels)));
    byId.set(clientId, entry);
    if (clientId !== OTHER || principal !== OTHER) this.clientCount++;
    return entry;
  }

  /** Rates over the last `WINDOW_SECONDS`, of every topic and client seen (`/api/traffic`). */
  rates(second: number): { windowSeconds: number; topics: TopicTraffic[]; clients: ClientTraffic[] } {
    const topics: TopicTraffic[] = [];
    for (const [cluster, byName] of this.topics) {
      for (const [topic, entry] of byName) topics.push({ topic, cluster, ...entry.rates(second) });
    }
    const clients: ClientTraffic[] = [];
    for (const [principal, byId] of this.clients) {
      for (const [clientId, entry] of byId) {
        clients.push({ clientId, principal: principal === "" ? null : principal, ...entry.rates(second) });
      }
    }
    return { windowSeconds: WINDOW_SECONDS, topics, clients };
  }
}
