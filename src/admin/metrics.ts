import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";

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
  readonly responsesStreamed: Counter<"api">;
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
      help: "Client connections refused or closed for a protocol error, by reason",
      labelNames: ["reason"],
      registers: [this.registry],
    });
    this.responsesStreamed = new Counter({
      name: "kpp_responses_streamed_total",
      help: "Large responses passed to clients chunk by chunk as they arrived (cut-through), by API",
      labelNames: ["api"],
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

  countStreamed(apiKey: number): void {
    this.responsesStreamed.labels(this.apiName(apiKey)).inc();
  }
}
