import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { framePool } from "../net/frame-pool.ts";
import type { UpstreamConnectionCounters } from "../net/upstream.ts";
import { ErrorCode, kafkaError } from "../protocol/api.ts";
import { type HistogramTally, TalliedCounter, TalliedHistogram, type Tally } from "./tallies.ts";

const LATENCY_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Counts of the virtualization feature's record rewriting (`kafka_proxy_virtualization_*`). */
export interface VirtualizationCounters {
  /** Virtual and physical partitions translated one into the other, in requests and responses. */
  partitionsRemapped(count: number): void;
  /** A record batch decoded and written anew (its records filtered or its offsets renumbered). */
  batchReencoded(): void;
  /** Records left out of a batch because they belong to another virtual partition. */
  recordsFiltered(count: number): void;
  /** A batch of which no record was kept, sent as an empty batch to keep offsets moving. */
  emptyBatch(): void;
}

/** The tallies of one API, made at its first request. */
interface ApiTallies {
  readonly requests: Tally;
  readonly requestBytes: Tally;
  readonly responseBytes: Tally;
  readonly referenceRequests: Tally;
  readonly requestSeconds: HistogramTally;
  readonly referenceSeconds: HistogramTally;
  readonly upstreamSeconds: HistogramTally;
  /** Made at the first streamed response, so that APIs never streamed publish no series. */
  streamed: Tally | undefined;
  /** Per error code (`kafka_proxy_errors_total`). */
  readonly errors: Map<number, Tally>;
}

export class ProxyMetrics {
  readonly registry = new Registry();
  private readonly requests: TalliedCounter;
  private readonly requestBytes: TalliedCounter;
  private readonly responseBytes: TalliedCounter;
  private readonly byApiKey: (ApiTallies | undefined)[] = [];
  readonly connections: Gauge<"listener">;
  readonly connectionsAccepted: Counter<"listener">;
  readonly connectionsRejected: Counter<"reason">;
  readonly upstreamBrokers: Gauge;
  /** Unhandled promise rejections and uncaught exceptions: bugs, logged with their stacks (docs/operations.md). */
  readonly processErrors: Counter<"kind">;
  private readonly responsesStreamed: TalliedCounter;
  private readonly requestSeconds: TalliedHistogram;
  private readonly upstreamSeconds: TalliedHistogram;
  private readonly apiName: (apiKey: number) => string;
  /** The reference names (`kafka_proxy_*`), so dashboards built for them keep working. */
  private readonly referenceRequests: TalliedCounter;
  private readonly referenceSeconds: TalliedHistogram;
  private readonly bytesReceived: Tally;
  private readonly bytesSent: Tally;
  private readonly errors: TalliedCounter;
  private readonly upstreamConnections: Gauge<"cluster">;
  private readonly upstreamConnects: Counter<"cluster" | "outcome">;
  private readonly upstreamByCluster = new Map<string, UpstreamConnectionCounters>();
  /** Each upstream cluster's health, read when metrics are collected (see `watchClusters`). */
  private clusterHealth: (() => Record<string, { reachable: boolean }>) | undefined;
  /** The configured limit of client connections (`listen.max_connections`). */
  readonly maxClientConnections: Gauge;
  readonly virtualization: VirtualizationCounters;

  constructor(apiName: (apiKey: number) => string) {
    this.apiName = apiName;
    collectDefaultMetrics({ register: this.registry, prefix: "kpp_" });
    const registry = this.registry;
    this.referenceRequests = new TalliedCounter(
      registry,
      "kafka_proxy_requests_total",
      "Client requests received, by API name (as kpp_requests_total)",
      ["api_key"],
    );
    this.referenceSeconds = new TalliedHistogram(
      registry,
      "kafka_proxy_request_duration_seconds",
      "From a client request's arrival to its response written to the client, by API name (as kpp_request_seconds)",
      ["api_key"],
      LATENCY_BUCKETS_SECONDS,
    );
    this.bytesReceived = new TalliedCounter(
      registry,
      "kafka_proxy_bytes_received_total",
      "Bytes of client requests received (frames with their length prefix)",
    ).tally();
    this.bytesSent = new TalliedCounter(
      registry,
      "kafka_proxy_bytes_sent_total",
      "Bytes of responses sent to clients (frames with their length prefix)",
    ).tally();
    this.errors = new TalliedCounter(
      registry,
      "kafka_proxy_errors_total",
      "Error codes other than NONE in responses sent to clients, by API name and error name: the top-level error of every response a feature decoded or answered, and each partition's error of Produce and Fetch responses (read from the frame without decoding it)",
      ["api_key", "error"],
    );
    this.upstreamConnections = new Gauge({
      name: "kafka_proxy_upstream_connections",
      help: "Open connections from the proxy to brokers (clients' own and the proxy's shared ones), by upstream cluster",
      labelNames: ["cluster"],
      registers: [this.registry],
    });
    this.upstreamConnects = new Counter({
      name: "kafka_proxy_upstream_connects_total",
      help: "Connection attempts to brokers, by upstream cluster and outcome: connected, or failed (refused, timed out, TLS or SASL failure)",
      labelNames: ["cluster", "outcome"],
      registers: [this.registry],
    });
    const metrics = this;
    const errors = this.errors.counter;
    new Counter({
      name: "kafka_proxy_requests_errors_total",
      help: "kafka_proxy_errors_total under the reference project's name and labels: by API name and error_type (the Kafka error's name)",
      labelNames: ["api_key", "error_type"],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const { labels, value } of (await errors.get()).values)
          this.labels(String(labels.api_key), String(labels.error)).inc(value);
      },
    });
    const upstreamConnections = this.upstreamConnections;
    new Gauge({
      name: "kafka_proxy_active_broker_connections",
      help: "Open connections from the proxy to brokers, over every upstream cluster (the reference project's name; kafka_proxy_upstream_connections has them per cluster)",
      registers: [this.registry],
      async collect() {
        let open = 0;
        for (const { value } of (await upstreamConnections.get()).values) open += value;
        this.set(open);
      },
    });
    new Gauge({
      name: "kafka_proxy_upstream_cluster_ready",
      help: "1 while the upstream cluster's metadata answers (its last refresh succeeded), else 0, by cluster",
      labelNames: ["cluster"],
      registers: [this.registry],
      collect() {
        const health = metrics.clusterHealth?.() ?? {};
        for (const [cluster, { reachable }] of Object.entries(health))
          this.labels(cluster).set(reachable ? 1 : 0);
      },
    });
    this.maxClientConnections = new Gauge({
      name: "kafka_proxy_max_client_connections",
      help: "The configured limit of open client connections (listen.max_connections)",
      registers: [this.registry],
    });
    this.virtualization = this.virtualizationCounters();
    this.requests = new TalliedCounter(registry, "kpp_requests_total", "Client requests received, by API", [
      "api",
    ]);
    this.requestBytes = new TalliedCounter(
      registry,
      "kpp_request_bytes_total",
      "Bytes of client requests received, by API",
      ["api"],
    );
    this.responseBytes = new TalliedCounter(
      registry,
      "kpp_response_bytes_total",
      "Bytes of responses sent to clients, by API",
      ["api"],
    );
    this.connections = new Gauge({
      name: "kpp_client_connections",
      help: "Open client connections, by listener",
      labelNames: ["listener"],
      registers: [this.registry],
    });
    const connections = this.connections;
    new Gauge({
      name: "kafka_proxy_active_client_connections",
      help: "Open client connections, on every listener",
      registers: [this.registry],
      async collect() {
        let open = 0;
        for (const value of (await connections.get()).values) open += value.value;
        this.set(open);
      },
    });
    this.connectionsAccepted = new Counter({
      name: "kpp_client_connections_accepted_total",
      help: "Client connections accepted, by listener",
      labelNames: ["listener"],
      registers: [this.registry],
    });
    this.connectionsRejected = new Counter({
      name: "kpp_client_connections_rejected_total",
      help: "Client connections refused, by reason: max_connections, max_connections_per_ip, accept_failed (the accept itself failed, e.g. EMFILE)",
      labelNames: ["reason"],
      registers: [this.registry],
    });
    new Gauge({
      name: "kpp_frame_pool_idle_bytes",
      help: "Bytes of written frame buffers held for reuse (pass-through Produce requests, unchanged and streamed responses, physical Fetch responses of virtualized reads)",
      registers: [this.registry],
      collect() {
        this.set(framePool.idleByteCount);
      },
    });
    new Counter({
      name: "kpp_frame_pool_reused_total",
      help: "Frames read into a pooled buffer that had been written and given back, instead of a new allocation",
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(framePool.reused);
      },
    });
    this.responsesStreamed = new TalliedCounter(
      registry,
      "kpp_responses_streamed_total",
      "Large responses passed to clients chunk by chunk as they arrived (cut-through), by API",
      ["api"],
    );
    this.requestSeconds = new TalliedHistogram(
      registry,
      "kpp_request_seconds",
      "From a client request's arrival to its response written to the client, by API",
      ["api"],
      LATENCY_BUCKETS_SECONDS,
    );
    this.upstreamSeconds = new TalliedHistogram(
      registry,
      "kpp_upstream_seconds",
      "From a forwarded request's write to the broker to its response's arrival, by API",
      ["api"],
      LATENCY_BUCKETS_SECONDS,
    );
    this.processErrors = new Counter({
      name: "kpp_process_errors_total",
      help: "Unhandled promise rejections (served through) and uncaught exceptions (the proxy closes gracefully and exits 1), by kind",
      labelNames: ["kind"],
      registers: [this.registry],
    });
    this.upstreamBrokers = new Gauge({
      name: "kpp_upstream_brokers",
      help: "Brokers known in the upstream cluster",
      registers: [this.registry],
    });
  }

  private tallies(apiKey: number): ApiTallies {
    let tallies = this.byApiKey[apiKey];
    if (!tallies) {
      const api = this.apiName(apiKey);
      tallies = {
        requests: this.requests.tally(api),
        requestBytes: this.requestBytes.tally(api),
        responseBytes: this.responseBytes.tally(api),
        referenceRequests: this.referenceRequests.tally(api),
        requestSeconds: this.requestSeconds.tally(api),
        referenceSeconds: this.referenceSeconds.tally(api),
        upstreamSeconds: this.upstreamSeconds.tally(api),
        streamed: undefined,
        errors: new Map(),
      };
      this.byApiKey[apiKey] = tallies;
    }
    return tallies;
  }

  countRequest(apiKey: number, bytes: number): void {
    const tallies = this.tallies(apiKey);
    tallies.requests.pending++;
    tallies.referenceRequests.pending++;
    tallies.requestBytes.pending += bytes;
    this.bytesReceived.pending += bytes;
  }

  countResponse(apiKey: number, bytes: number): void {
    this.tallies(apiKey).responseBytes.pending += bytes;
    this.bytesSent.pending += bytes;
  }

  /** An error code of a response sent to a client; NONE is not counted. */
  countError(apiKey: number, errorCode: number): void {
    if (errorCode === ErrorCode.NONE) return;
    const errors = this.tallies(apiKey).errors;
    let tally = errors.get(errorCode);
    if (!tally) {
      tally = this.errors.tally(this.apiName(apiKey), kafkaError(errorCode)?.name ?? `code-${errorCode}`);
      errors.set(errorCode, tally);
    }
    tally.pending++;
  }

  /** Time in the proxy and at the broker together, from the request's arrival (a `performance.now()`). */
  observeRequest(apiKey: number, arrivedAt: number): void {
    const seconds = (performance.now() - arrivedAt) / 1000;
    const tallies = this.tallies(apiKey);
    tallies.requestSeconds.observe(seconds);
    tallies.referenceSeconds.observe(seconds);
  }

  /** Publishes `kafka_proxy_upstream_cluster_ready` from each cluster's health when metrics are collected. */
  watchClusters(health: () => Record<string, { reachable: boolean }>): void {
    this.clusterHealth = health;
  }

  /** The counters of the broker connections to one upstream cluster (`kafka_proxy_upstream_*`). */
  upstream(cluster: string): UpstreamConnectionCounters {
    let counters = this.upstreamByCluster.get(cluster);
    if (!counters) {
      counters = this.upstreamCounters(cluster);
      this.upstreamByCluster.set(cluster, counters);
    }
    return counters;
  }

  private upstreamCounters(cluster: string): UpstreamConnectionCounters {
    const open = this.upstreamConnections.labels(cluster);
    open.inc(0);
    const connected = this.upstreamConnects.labels(cluster, "connected");
    const failed = this.upstreamConnects.labels(cluster, "failed");
    connected.inc(0);
    failed.inc(0);
    return {
      connectAttempted: (outcome) => {
        if (outcome === "connected") {
          connected.inc();
          open.inc();
        } else failed.inc();
      },
      closed: () => open.dec(),
    };
  }

  private virtualizationCounters(): VirtualizationCounters {
    const counter = (name: string, help: string) => new TalliedCounter(this.registry, name, help).tally();
    const remapped = counter(
      "kafka_proxy_partitions_remapped_total",
      "Partitions translated by virtualization, virtual to physical in requests and physical to virtual in responses (one per partition entry)",
    );
    const reencoded = counter(
      "kafka_proxy_virtualization_batches_reencoded_total",
      "Record batches of virtualized topics decoded and written anew (records filtered out or offsets renumbered)",
    );
    const filtered = counter(
      "kafka_proxy_virtualization_records_filtered_total",
      "Records of physical batches left out of a virtual partition's Fetch response because they belong to another virtual partition",
    );
    const empty = counter(
      "kafka_proxy_virtualization_empty_batches_total",
      "Batches of which no record belonged to the virtual partition, sent as empty batches so that the consumer's offset moves on",
    );
    return {
      partitionsRemapped: (count) => remapped.add(count),
      batchReencoded: () => reencoded.add(1),
      recordsFiltered: (count) => filtered.add(count),
      emptyBatch: () => empty.add(1),
    };
  }

  observeUpstream(apiKey: number, sentAt: number): void {
    this.tallies(apiKey).upstreamSeconds.observe((performance.now() - sentAt) / 1000);
  }

  countStreamed(apiKey: number): void {
    const tallies = this.tallies(apiKey);
    (tallies.streamed ??= this.responsesStreamed.tally(this.apiName(apiKey))).pending++;
  }
}
