import type http from "node:http";
import net from "node:net";
import { startAdminServer } from "../admin/http-server.ts";
import type { ProxyMetrics } from "../admin/metrics.ts";
import { ClusterView } from "../cluster/cluster-view.ts";
import type { ProxyConfig } from "../config/load.ts";
import { AddressRewrite } from "../features/address-rewrite/address-rewrite.ts";
import { ApiVersionsClamp } from "../features/api-versions/api-versions.ts";
import { virtualizationFeatures } from "../features/virtualization/index.ts";
import { VirtualizationRules } from "../features/virtualization/rules.ts";
import { TopicIndex } from "../features/virtualization/topic-index.ts";
import type { Logger } from "../log/logger.ts";
import { UpstreamPool } from "../net/upstream-pool.ts";
import { ClientConnection } from "./client-connection.ts";
import type { Feature } from "./feature.ts";
import { Pipeline } from "./pipeline.ts";

interface Listener {
  server: net.Server;
  brokerId: number | undefined;
  port: number;
  label: string;
}

/** The proxy: a bootstrap listener, one listener per upstream broker, and the admin HTTP server. */
export class ProxyServer {
  readonly config: ProxyConfig;
  readonly log: Logger;
  readonly cluster: ClusterView;
  readonly pipeline: Pipeline;
  readonly metrics: ProxyMetrics;
  readonly pool: UpstreamPool;
  private bootstrap: Listener | undefined;
  private readonly brokerListeners = new Map<number, Listener>();
  private readonly connections = new Set<ClientConnection>();
  private admin: http.Server | undefined;
  private nextConnectionId = 1;
  private stopping = false;

  constructor(config: ProxyConfig, log: Logger) {
    this.config = config;
    this.log = log;
    this.cluster = new ClusterView({
      bootstrapServers: config.bootstrapServers,
      connectTimeoutMs: config.connectionTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      refreshIntervalMs: config.metadataRefreshMs,
      departedLingerMs: config.departedBrokerLingerMs,
      log: log.child({ component: "cluster" }),
    });
    this.pool = new UpstreamPool({
      connectTimeoutMs: config.connectionTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      log: log.child({ component: "pool" }),
      addressOf: (nodeId) => this.cluster.address(nodeId),
    });
    const features: Feature[] = [];
    const rules = new VirtualizationRules(config.partitionRules, config.neverVirtualize);
    if (!rules.isEmpty) {
      const requestAnyBroker = (apiKey: number, apiVersion: number, body: unknown) => {
        const nodeId = this.cluster.anyNodeId();
        if (nodeId === undefined) return Promise.reject(new Error("no upstream broker is known yet"));
        return this.pool.request(nodeId, apiKey, apiVersion, body);
      };
      const virtualizationLog = log.child({ component: "virtualization" });
      features.push(
        ...virtualizationFeatures({
          rules,
          topics: new TopicIndex(requestAnyBroker, virtualizationLog),
          markerHeader: config.markerHeader,
          keepMarker: config.keepMarker,
          readAheadBytes: config.readAheadBytes,
          log: virtualizationLog,
          requestAnyBroker,
        }),
      );
    }
    features.push(new AddressRewrite(config, this.cluster), new ApiVersionsClamp(config.apiMaxVersions));
    this.pipeline = new Pipeline(features);
    this.metrics = this.pipeline.metrics;
    this.cluster.on("brokers", () => this.syncBrokerListeners());
  }

  get bootstrapPort(): number {
    return this.bootstrap?.port ?? this.config.listen.port;
  }

  brokerPort(brokerId: number): number | undefined {
    return this.brokerListeners.get(brokerId)?.port;
  }

  async start(): Promise<void> {
    for (const warning of this.config.warnings) this.log.warn(warning);
    this.bootstrap = await this.listen(undefined, this.config.listen.port);
    if (this.config.metrics.enabled) {
      this.admin = await startAdminServer(
        this.config.metrics.address,
        this.metrics,
        { ready: () => this.cluster.isReady, describe: () => this.describe() },
        this.log.child({ component: "admin" }),
      );
    }
    try {
      await this.cluster.start();
    } catch (error) {
      this.log.warn(
        { err: (error as Error).message },
        "upstream cluster not reachable yet; clients will be served once it answers",
      );
    }
  }

  describe(): unknown {
    return {
      bootstrap: `${this.config.advertisedHost}:${this.config.advertisedBootstrapPort}`,
      upstreamClusterId: this.cluster.clusterId,
      brokers: this.cluster.listenable().map((b) => ({
        nodeId: b.nodeId,
        upstream: `${b.host}:${b.port}`,
        rack: b.rack,
        live: this.cluster.isLive(b.nodeId),
        proxyPort: this.brokerListeners.get(b.nodeId)?.port ?? null,
      })),
      connections: this.connections.size,
    };
  }

  /** Stops accepting, lets in-flight requests finish within the grace period, then closes everything. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const servers = [this.bootstrap, ...this.brokerListeners.values()].filter((l): l is Listener => !!l);
    for (const listener of servers) listener.server.close();
    for (const connection of this.connections) connection.drain();
    const deadline = Date.now() + this.config.shutdownGraceMs;
    while (this.connections.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    for (const connection of this.connections) connection.close("proxy shutting down");
    this.cluster.stop();
    this.pool.close();
    const admin = this.admin;
    if (admin) {
      const closed = new Promise<void>((resolve) => admin.close(() => resolve()));
      admin.closeAllConnections();
      await closed;
    }
  }

  private syncBrokerListeners(): void {
    if (this.stopping) return;
    this.metrics.upstreamBrokers.set(this.cluster.list().length);
    const brokers = this.cluster.listenable();
    const present = new Set(brokers.map((b) => b.nodeId));
    for (const broker of brokers) {
      if (this.brokerListeners.has(broker.nodeId)) continue;
      const port = this.config.brokerPortFor(broker.nodeId);
      if (port === undefined) {
        this.log.error(
          { nodeId: broker.nodeId },
          "no client-facing port for this broker id: widen listen.broker_port_count or set listen.broker_ports",
        );
        continue;
      }
      const placeholder: Listener = {
        server: net.createServer(),
        brokerId: broker.nodeId,
        port,
        label: `broker-${broker.nodeId}`,
      };
      this.brokerListeners.set(broker.nodeId, placeholder);
      this.listen(broker.nodeId, port).then(
        (listener) => {
          if (this.brokerListeners.get(broker.nodeId) === placeholder && !this.stopping) {
            this.brokerListeners.set(broker.nodeId, listener);
          } else {
            listener.server.close();
          }
        },
        (error: Error) => {
          this.brokerListeners.delete(broker.nodeId);
          this.log.error({ nodeId: broker.nodeId, port, err: error.message }, "cannot listen for broker");
        },
      );
    }
    for (const [nodeId, listener] of this.brokerListeners) {
      if (present.has(nodeId)) continue;
      this.brokerListeners.delete(nodeId);
      listener.server.close();
      this.log.info({ nodeId, port: listener.port }, "broker left the cluster; listener closed");
    }
  }

  private listen(brokerId: number | undefined, port: number): Promise<Listener> {
    const label = brokerId === undefined ? "bootstrap" : `broker-${brokerId}`;
    const server = net.createServer({ noDelay: true, pauseOnConnect: true }, (socket) =>
      this.accept(socket, brokerId, label),
    );
    server.maxConnections = this.config.maxConnections * 4;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen({ port, host: this.config.listen.host, backlog: 1024 }, () => {
        server.off("error", reject);
        server.on("error", (error) =>
          this.log.error({ err: error.message, listener: label }, "listener error"),
        );
        const bound = (server.address() as net.AddressInfo).port;
        this.log.info({ listener: label, address: `${this.config.listen.host}:${bound}` }, "listening");
        resolve({ server, brokerId, port: bound, label });
      });
    });
  }

  private accept(socket: net.Socket, brokerId: number | undefined, label: string): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    if (this.connections.size >= this.config.maxConnections) {
      this.metrics.connectionsRejected.labels("max_connections").inc();
      this.log.warn(
        { limit: this.config.maxConnections, client: socket.remoteAddress },
        "connection limit reached; refusing client",
      );
      socket.destroy();
      return;
    }
    this.metrics.connectionsAccepted.labels(label).inc();
    this.metrics.connections.labels(label).inc();
    const connection = new ClientConnection(socket, {
      id: this.nextConnectionId++,
      brokerId,
      maxFrameBytes: this.config.maxFrameBytes,
      maxInFlightBytes: this.config.maxInFlightBytes,
      connectTimeoutMs: this.config.connectionTimeoutMs,
      requestTimeoutMs: this.config.requestTimeoutMs,
      log: this.log,
      pipeline: this.pipeline,
      pool: this.pool,
      upstreamFor: (id) => (id === undefined ? this.cluster.anyAddress() : this.cluster.address(id)),
      onClosed: (closed) => {
        this.connections.delete(closed);
        this.metrics.connections.labels(label).dec();
      },
    });
    if (!connection.isClosed) this.connections.add(connection);
  }
}
