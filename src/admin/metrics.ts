import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { framePool } from "../net/frame-pool.ts";

const LATENCY_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export class ProxyMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<"api">;
  private readonly requestBytes: Counter<"api">;
  private readonly responseBytes: Counter<"api">;
  private readonly requestsByKey: Counter.Internal[] = [];
  private readonly requestBytesByKey: Counter.Internal[] = [];
  private readonly responseBytesByKey: Counter.Internal[] = [];
  readonly connections: Gauge<"listener">;
  readonly connectionsAccepted: Counter<"listener">;
  readonly connectionsRejected: Counter<"reason">;
  readonly upstreamBrokers: Gauge;
  /** Unhandled promise rejections and uncaught exceptions: bugs, logged with their stacks (docs/operations.md). */
  readonly processErrors: Counter<"kind">;
  readonly responsesStreamed: Counter<"api">;
  private readonly requestSeconds: Histogram<"api">;
  private readonly upstreamSeconds: Histogram<"api">;
  private readonly requestSecondsByKey: Histogram.Internal<"api">[] = [];
  private readonly upstreamSecondsByKey: Histogram.Internal<"api">[] = [];
  private readonly apiName: (apiKey: number) => string;

  constructor(apiName: (apiKey: number) => string) {
    this.apiName = apiName;
    collectDefaultMetrics({ register: this.registry, prefix: "kpp_" });
    this.requests = new Counter({
      name: "kpp_requests_total",
      help: "Client requests received, by API",
      labelNames: ["api"],
      registers: [this.registry],
    });
    this.requestBytes = new Counter({
      name: "kpp_request_bytes_total",
      help: "Bytes of client requests received, by API",
      labelNames: ["api"],
      registers: [this.registry],
    });
    this.responseBytes = new Counter({
      name: "kpp_response_bytes_total",
      help: "Bytes of responses sent to clients, by API",
      labelNames: ["api"],
      registers: [this.registry],
    });
    this.connections = new Gauge({
      name: "kpp_client_connections",
      help: "Open client connections, by listener",
      labelNames: ["listener"],
      registers: [this.registry],
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
    this.responsesStreamed = new Counter({
      name: "kpp_responses_streamed_total",
      help: "Large responses passed to clients chunk by chunk as they arrived (cut-through), by API",
      labelNames: ["api"],
      registers: [this.registry],
    });
    this.requestSeconds = new Histogram({
      name: "kpp_request_seconds",
      help: "From a client request's arrival to its response written to the client, by API",
      labelNames: ["api"],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [this.registry],
    });
    this.upstreamSeconds = new Histogram({
      name: "kpp_upstream_seconds",
      help: "From a forwarded request's write to the broker to its response's arrival, by API",
      labelNames: ["api"],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [this.registry],
    });
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

  countRequest(apiKey: number, bytes: number): void {
    let requests = this.requestsByKey[apiKey];
    if (!requests) {
      const api = this.apiName(apiKey);
      requests = this.requestsByKey[apiKey] = this.requests.labels(api);
      this.requestBytesByKey[apiKey] = this.requestBytes.labels(api);
      this.responseBytesByKey[apiKey] = this.responseBytes.labels(api);
    }
    requests.inc();
    this.requestBytesByKey[apiKey]!.inc(bytes);
  }

  countResponse(apiKey: number, bytes: number): void {
    this.responseBytesByKey[apiKey]?.inc(bytes);
  }

  /** Time in the proxy and at the broker together, from the request's arrival (a `performance.now()`). */
  observeRequest(apiKey: number, arrivedAt: number): void {
    (this.requestSecondsByKey[apiKey] ??= this.requestSeconds.labels(this.apiName(apiKey))).observe(
      (performance.now() - arrivedAt) / 1000,
    );
  }

  observeUpstream(apiKey: number, sentAt: number): void {
    (this.upstreamSecondsByKey[apiKey] ??= this.upstreamSeconds.labels(this.apiName(apiKey))).observe(
      (performance.now() - sentAt) / 1000,
    );
  }

  countStreamed(apiKey: number): void {
    this.responsesStreamed.labels(this.apiName(apiKey)).inc();
  }
}
