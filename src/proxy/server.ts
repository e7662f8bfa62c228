import { readFileSync } from "node:fs";
import type http from "node:http";
import type { SecureContextOptions, TlsOptions } from "node:tls";
import type { ConnectionSource } from "../admin/api/connections.ts";
import { registerAdminApi } from "../admin/api/index.ts";
import { startAdminServer } from "../admin/http-server.ts";
import { ProxyMetrics } from "../admin/metrics.ts";
import { AdminApi } from "../admin/routes.ts";
import { buildConfig, normalizeClientAddress, type ProxyConfig } from "../config/load.ts";
import {
  type ConfigPath,
  formatConfigPath,
  type LayoutCounts,
  layoutChanges,
  layoutRefusal,
  overlay,
  planReload,
  type ReloadPlan,
  routingRefusals,
} from "../config/reload.ts";
import { type Logger, setLogLevel } from "../log/logger.ts";
import { ConnectionAdmission, RefusalLog, type RefusalReason } from "../net/admission.ts";
import { type AcceptedConnection, type Listener, listenPlain, listenTls } from "../net/listener.ts";
import type { SniNames } from "../net/sni-names.ts";
import { ApiKey } from "../protocol/api.ts";
import { ClientAuthenticator } from "../security/client-authenticator.ts";
import { ClusterRouting } from "../topology/cluster-routing.ts";
import type { Topology } from "../topology/topology.ts";
import type { Chain } from "./chain.ts";
import { ChainClient } from "./chain-client.ts";
import { ConnectionAuthentication } from "./connection/authentication.ts";
import { ClientConnection, type ConnectionUpstreams } from "./connection/client-connection.ts";
import { MemoryBudget } from "./memory-budget.ts";
import { existingTopics, holdsRecords, type InspectedTopic } from "./topic-contents.ts";

const BOOTSTRAP = "bootstrap";

/** The coarsest sweep over client connections for their timeouts: a tenth of the shortest one, at most 1 s. */
function sweepIntervalMs(config: ProxyConfig): number {
  const shortest = Math.min(config.connectionsMaxIdleMs, config.firstFrameTimeoutMs);
  return Math.min(1000, Math.max(20, Math.floor(shortest / 10)));
}

function nodeLabel(nodeId: number): string {
  return `node-${nodeId}`;
}

/** What a reload took, refused (each part with why) and left for a restart; paths as in the config file. */
export interface ReloadOutcome {
  applied: string[];
  refused: { paths: string[]; reason: string }[];
  needRestart: string[];
}

/** What the composition root shares with the features; made here when absent (tests that build a server alone). */
export interface ServerParts {
  /** One TLS port for every broker, told apart by the name the client asks for (SNI). */
  readonly sni?: SniNames;
  readonly metrics?: ProxyMetrics;
  readonly admin?: AdminApi;
  readonly requests?: ChainClient;
  /** The virtual layout each topic gets under a config's rules (for reloads that would move a topic's data). */
  readonly layoutsOf?: (config: ProxyConfig) => (topic: string) => LayoutCounts | undefined;
}

/**
 * The runtime: a bootstrap listener, one listener per virtual node, the client connections, and the admin
 * HTTP server. Requests run through the chain it is given; brokers are found through the topology.
 */
export class ProxyServer {
  /** The running config: the one started with, then each reload's applied part. */
  config: ProxyConfig;
  readonly log: Logger;
  readonly topology: Topology;
  readonly chain: Chain;
  readonly metrics: ProxyMetrics;
  /** The admin API's routes (served with /metrics on the admin server). */
  readonly admin: AdminApi;
  /** The proxy's own requests through the chain. */
  readonly requests: ChainClient;
  /** Bytes held for clients across connections (see `MemoryBudget`). */
  readonly budget: MemoryBudget;
  private bootstrap: Listener | undefined;
  private readonly nodeListeners = new Map<number, Listener | "opening">();
  private readonly connections = new Set<ClientConnection>();
  private readonly upstreams: ConnectionUpstreams;
  private adminServer: http.Server | undefined;
  private nextConnectionId = 1;
  private stopping = false;
  /** Counts connections in all and per client address against listen.max_connections(_per_ip). */
  private readonly admission: ConnectionAdmission;
  private readonly refusals: RefusalLog;
  private sweepTimer: NodeJS.Timeout | undefined;
  /** SASL towards clients in terminate mode. */
  private readonly authenticator: ClientAuthenticator | undefined;
  /** The TLS listeners' certificate, key and client-certificate policy (undefined: plain TCP). */
  private readonly tlsOptions: TlsOptions | undefined;

  private readonly reloadListeners: ((config: ProxyConfig) => void)[] = [];
  private readonly stopListeners: (() => void)[] = [];
  private readonly layoutsOf: ServerParts["layoutsOf"];
  /** The reload in progress (reloads run one after another). */
  private reloading: Promise<unknown> = Promise.resolve();
  /** One TLS port for every broker, told apart by the name the client asks for (SNI); else a port per node. */
  private readonly sni: SniNames | undefined;

  constructor(config: ProxyConfig, log: Logger, chain: Chain, topology: Topology, parts: ServerParts = {}) {
    this.sni = parts.sni;
    this.layoutsOf = parts.layoutsOf;
    this.config = config;
    this.log = log;
    this.chain = chain;
    this.topology = topology;
    this.metrics = parts.metrics ?? new ProxyMetrics((apiKey) => chain.apiName(apiKey));
    this.admin = parts.admin ?? new AdminApi(config.adminToken);
    if (parts.requests) {
      this.requests = parts.requests;
    } else {
      this.requests = new ChainClient(topology, log.child({ component: "internal-requests" }));
      this.requests.bind(chain);
    }
    this.budget = new MemoryBudget(config.memoryBudgetBytes);
    const security = config.clientSecurity;
    this.authenticator =
      security.sasl && security.mode === "terminate"
        ? new ClientAuthenticator(security, log.child({ component: "authentication" }))
        : security.tls
          ? new ClientAuthenticator(
              { ...security, sasl: undefined },
              log.child({ component: "authentication" }),
            )
          : undefined;
    this.tlsOptions = security.tls && clientTlsOptions(security.tls);
    this.admission = new ConnectionAdmission({
      maxConnections: config.maxConnections,
      maxConnectionsPerIp: config.maxConnectionsPerIp,
      perIpOverrides: config.maxConnectionsPerIpOverrides,
    });
    this.refusals = new RefusalLog(log, () => ({
      max_connections: config.maxConnections,
      max_connections_per_ip: config.maxConnectionsPerIp,
    }));
    this.budget.onChange((exhausted) =>
      this.log.warn(
        { usedBytes: this.budget.usedBytes, limitBytes: this.budget.limitBytes },
        exhausted
          ? "memory budget exhausted: client requests are not read until it recovers"
          : "memory budget recovered: reading client requests again",
      ),
    );
    this.upstreams = {
      addressFor: (nodeId) => topology.addressFor(nodeId),
      countersFor: (nodeId) => topology.connectionCountersFor(nodeId),
      securityFor: (nodeId) => {
        const security = topology.securityFor(nodeId);
        // passthrough: the client's own SASL exchange authenticates its connections, so only TLS is the proxy's
        return config.clientSecurity.mode === "passthrough" && security ? { tls: security.tls } : security;
      },
      apiVersionsLimit: (nodeId) =>
        topology.knownVersionsOf(topology.clusterOfNode(nodeId))?.get(ApiKey.ApiVersions)?.max,
      requestShared: (nodeId, apiKey, apiVersion, request, clientId) =>
        topology.admin.requestAt(nodeId, apiKey, apiVersion, request, clientId),
    };
    topology.on("nodes", () => this.syncNodeListeners());
    this.onReload(
      registerAdminApi(this.admin, {
        config,
        topology,
        requests: this.requests,
        metrics: this.metrics,
        log: log.child({ component: "admin-api" }),
        connections: () => this.connectionSources(),
      }),
    );
  }

  /** The open client connections, as the admin API lists them. */
  private *connectionSources(): Generator<ConnectionSource> {
    for (const connection of this.connections) {
      yield {
        id: connection.id,
        remote: connection.remote,
        listener: connection.listener,
        clientId: connection.clientId,
        principal: connection.principal,
        openedAt: connection.openedAt,
        bytesIn: connection.bytesIn,
        bytesOut: connection.socket.bytesWritten,
        inFlight: connection.inFlight,
      };
    }
  }

  /** Registers what to end once the proxy has stopped (see `stop`). */
  onStop(listener: () => void): void {
    this.stopListeners.push(listener);
  }

  /** Registers what to take from a reloaded config file (see `reload`). */
  onReload(listener: (config: ProxyConfig) => void): void {
    this.reloadListeners.push(listener);
  }

  /**
   * Takes what can change without a restart from a config file that changed and still validates (see
   * docs/operations.md, "Reload"): the log level, client credentials, authorization rules, quotas, metrics
   * settings and the admin token at once; virtualization rules and topic routing unless the brokers say an
   * existing topic's data would move, in which case that part keeps its running rules and the rest applies.
   * Settings that need a restart are logged as such. Reloads run one at a time; one line logs each.
   */
  reload(config: ProxyConfig): Promise<ReloadOutcome> {
    const next = this.reloading.then(() => this.reloadNow(config));
    this.reloading = next.catch(() => undefined);
    return next;
  }

  private async reloadNow(file: ProxyConfig): Promise<ReloadOutcome> {
    const running = this.config;
    const plan = planReload(running.raw, file.raw, this.virtualizationRunning(running));
    const applied = [...plan.apply];
    const refused: { paths: string[]; reason: string }[] = [];
    if (plan.virtualization.length > 0 || plan.routing.length > 0) {
      const checked = await this.checkDataMoves(running, file, plan);
      applied.push(...checked.applied);
      refused.push(...checked.refused);
    }
    const effective =
      applied.length === 0
        ? running
        : buildConfig(overlay(running.raw, file.raw, applied), "reloaded config");
    this.config = effective;
    if (effective.logging.level !== running.logging.level) setLogLevel(this.log, effective.logging.level);
    if (applied.some((path) => path[0] === "routing")) {
      this.topology.routing.replaceTopicRules(effective.routing.topics);
    }
    if (effective.clientSecurity.sasl) this.authenticator?.updateCredentials(effective.clientSecurity);
    for (const listener of this.reloadListeners) listener(effective);
    const outcome: ReloadOutcome = {
      applied: applied.map(formatConfigPath),
      refused,
      needRestart: plan.restart.map((entry) => formatConfigPath(entry.path)),
    };
    const line = {
      applied: outcome.applied,
      ...(refused.length > 0 ? { refused } : {}),
      ...(outcome.needRestart.length > 0 ? { needRestart: outcome.needRestart } : {}),
    };
    if (refused.length > 0) {
      this.log.warn(line, `config reloaded with changes refused: ${refused.map((r) => r.reason).join("; ")}`);
    } else if (outcome.applied.length === 0 && outcome.needRestart.length === 0) {
      this.log.info("config file reloaded: nothing changed");
    } else {
      this.log.info(line, "config file reloaded");
    }
    return outcome;
  }

  /** Whether the chain holds a feature that takes virtualization rules (the config had some at start). */
  private virtualizationRunning(config: ProxyConfig): boolean {
    return config.partitionRules.length > 0 && this.chain.features.some((f) => f.name === "virtualization");
  }

  /**
   * Asks the brokers which topics exist and which hold records, and takes the virtualization rules and the topic
   * routing of `file` unless an existing topic's data would move. Each part is taken or refused as a whole.
   */
  private async checkDataMoves(
    running: ProxyConfig,
    file: ProxyConfig,
    plan: ReloadPlan,
  ): Promise<{ applied: ConfigPath[]; refused: { paths: string[]; reason: string }[] }> {
    const applied: ConfigPath[] = [];
    const refused: { paths: string[]; reason: string }[] = [];
    const refuse = (paths: ConfigPath[], reasons: string[]) =>
      refused.push({ paths: paths.map(formatConfigPath), reason: reasons.join("; ") });
    let topics: InspectedTopic[];
    try {
      topics = await existingTopics(this.topology);
    } catch (error) {
      const reason = `cannot ask the brokers which topics exist: ${(error as Error).message}`;
      if (plan.virtualization.length > 0) refuse(plan.virtualization, [reason]);
      if (plan.routing.length > 0) refuse(plan.routing, [reason]);
      return { applied, refused };
    }
    if (plan.virtualization.length > 0) {
      const layoutsOf = this.layoutsOf;
      const reasons: string[] = [];
      for (const change of layoutsOf ? layoutChanges(topics, layoutsOf(running), layoutsOf(file)) : []) {
        try {
          const reason = layoutRefusal(
            change,
            await holdsRecords(this.topology, change.topic as InspectedTopic),
          );
          if (reason) reasons.push(reason);
        } catch (error) {
          reasons.push(
            `cannot tell whether topic ${change.topic.name} holds records: ${(error as Error).message}`,
          );
        }
      }
      if (reasons.length > 0) refuse(plan.virtualization, reasons);
      else applied.push(...plan.virtualization);
    }
    if (plan.routing.length > 0) {
      const routingLog = this.log.child({ component: "routing" });
      const before = new ClusterRouting(this.topology.clusterNames, running.routing, routingLog);
      const after = new ClusterRouting(this.topology.clusterNames, file.routing, routingLog);
      const reasons = routingRefusals(
        topics,
        (t) => before.clusterOfTopic(t),
        (t) => after.clusterOfTopic(t),
      );
      if (reasons.length > 0) refuse(plan.routing, reasons);
      else applied.push(...plan.routing);
    }
    return { applied, refused };
  }

  get bootstrapPort(): number {
    return this.bootstrap?.port ?? this.config.listen.port;
  }

  nodePort(nodeId: number): number | undefined {
    if (this.sni) return this.bootstrapPort;
    const listener = this.nodeListeners.get(nodeId);
    return listener && listener !== "opening" ? listener.port : undefined;
  }

  async start(): Promise<void> {
    for (const warning of this.config.warnings) this.log.warn(warning);
    this.authenticator?.watchCredentials();
    this.sweepTimer = setInterval(() => this.sweep(), sweepIntervalMs(this.config));
    this.sweepTimer.unref();
    this.bootstrap = await this.listen(BOOTSTRAP, undefined, this.config.listen.port);
    if (this.config.metrics.enabled) {
      this.adminServer = await startAdminServer(
        this.config.metrics.address,
        this.metrics,
        {
          ready: () => this.topology.isReady && this.topology.isReachable,
          readiness: () => ({ clusters: this.topology.health() }),
          describe: () => this.describe(),
        },
        this.log.child({ component: "admin" }),
        this.admin,
      );
    }
    try {
      await this.topology.start();
    } catch (error) {
      this.log.warn(
        { err: (error as Error).message },
        "upstream cluster not reachable yet; clients will be served once it answers",
      );
    }
  }

  describe(): unknown {
    const topology = this.topology;
    return {
      bootstrap: `${this.config.advertisedHost}:${this.config.advertisedBootstrapPort}`,
      clusterId: topology.clusterId ?? null,
      upstreamClusterIds: Object.fromEntries(
        this.config.clusters.map((c) => [c.name, topology.cluster(c.name)?.clusterId ?? null]),
      ),
      clusters: topology.health(),
      nodes: topology.nodes().map((node) => ({
        nodeId: node.nodeId,
        cluster: node.upstream.cluster,
        upstreamNodeId: node.upstream.nodeId,
        upstream: `${node.address.host}:${node.address.port}`,
        rack: node.rack,
        live: node.live,
        proxyPort: this.nodePort(node.nodeId) ?? null,
      })),
      connections: this.connections.size,
    };
  }

  /** Closes the connections past their first-frame deadline or idle too long (one timer for all). */
  private sweep(): void {
    const now = Date.now();
    for (const connection of this.connections) connection.sweep(now);
  }

  /** Stops accepting, lets in-flight requests finish within the grace period, then closes everything. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.bootstrap?.close();
    for (const listener of this.nodeListeners.values()) if (listener !== "opening") listener.close();
    for (const connection of this.connections) connection.drain();
    const deadline = Date.now() + this.config.shutdownGraceMs;
    while (this.connections.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    for (const connection of this.connections) connection.close("proxy shutting down");
    clearInterval(this.sweepTimer);
    this.authenticator?.stop();
    this.refusals.stop();
    this.topology.stop();
    for (const listener of this.stopListeners) {
      try {
        listener();
      } catch (error) {
        this.log.warn({ err: (error as Error).message }, "a feature failed to stop");
      }
    }
    const admin = this.adminServer;
    if (admin) {
      const closed = new Promise<void>((resolve) => admin.close(() => resolve()));
      admin.closeAllConnections();
      await closed;
    }
  }

  private syncNodeListeners(): void {
    if (this.stopping) return;
    const nodes = this.topology.nodes();
    this.metrics.upstreamBrokers.set(nodes.filter((node) => node.live).length);
    if (this.sni) return; // every node is served on the bootstrap port
    const present = new Set(nodes.map((node) => node.nodeId));
    for (const { nodeId } of nodes) {
      if (this.nodeListeners.has(nodeId)) continue;
      const port = this.config.nodePortFor(nodeId);
      if (port === undefined) {
        this.log.error(
          { nodeId },
          "no client-facing port for this node id: widen listen.broker_port_count or set listen.broker_ports",
        );
        continue;
      }
      this.nodeListeners.set(nodeId, "opening");
      this.listen(nodeLabel(nodeId), nodeId, port).then(
        (listener) => {
          if (this.nodeListeners.get(nodeId) === "opening" && !this.stopping) {
            this.nodeListeners.set(nodeId, listener);
          } else {
            listener.close();
          }
        },
        (error: Error) => {
          this.nodeListeners.delete(nodeId);
          this.log.error({ nodeId, port, err: error.message }, "cannot listen for node");
        },
      );
    }
    for (const [nodeId, listener] of this.nodeListeners) {
      if (present.has(nodeId)) continue;
      this.nodeListeners.delete(nodeId);
      if (listener !== "opening") listener.close();
      this.log.info(
        { nodeId, port: this.config.nodePortFor(nodeId) },
        "node left the cluster; listener closed",
      );
    }
  }

  private listen(label: string, nodeId: number | undefined, port: number): Promise<Listener> {
    const options = {
      host: this.config.listen.host,
      port,
      label,
      maxConnections: this.config.maxConnections * 4,
      log: this.log,
      onConnection: (accepted: AcceptedConnection) => this.accept(accepted, label, nodeId),
      // A failed accept (EMFILE, ENFILE, ENOBUFS...) refuses that client; the listener keeps listening.
      onError: (error: NodeJS.ErrnoException) =>
        this.refuse("accept_failed", undefined, error.code ?? error.message),
    };
    if (!this.tlsOptions) return listenPlain(options);
    return listenTls({
      ...options,
      secureContext: this.tlsOptions,
      handshakeTimeoutMs: this.config.firstFrameTimeoutMs,
      onHandshakeError: (address, error, certificateRefused) =>
        this.refuse(
          certificateRefused ? "client_certificate" : "tls_handshake_failed",
          address && normalizeClientAddress(address),
          `${label}: ${error.message}`,
        ),
    });
  }

  /** The principal of a TLS client certificate; a string when the connection must be refused instead. */
  private certificatePrincipal(accepted: AcceptedConnection): { principal?: string; refusal?: string } {
    const tls = accepted.tls;
    if (!tls) return {};
    if (tls.certificateError) return { refusal: `client certificate not trusted: ${tls.certificateError}` };
    if (!tls.peerCertificate || !this.authenticator) return {};
    try {
      return { principal: this.authenticator.principalOf(tls.peerCertificate) };
    } catch (error) {
      return { refusal: `client certificate maps to no principal: ${(error as Error).message}` };
    }
  }

  private accept(accepted: AcceptedConnection, label: string, nodeId: number | undefined): void {
    if (this.stopping) {
      accepted.refuse();
      return;
    }
    if (this.sni) {
      const target = this.sni.targetOf(accepted.tls?.serverName);
      if (target === undefined) {
        this.refuse(
          "unknown_server_name",
          normalizeClientAddress(accepted.remoteAddress),
          `no broker is served as ${accepted.tls?.serverName}`,
        );
        accepted.refuse();
        return;
      }
      if (target !== "bootstrap") {
        label = nodeLabel(target);
        nodeId = target;
      }
    }
    const address = normalizeClientAddress(accepted.remoteAddress);
    const refusal = this.admission.admit(address);
    if (refusal) {
      this.refuse(refusal, address);
      accepted.refuse();
      return;
    }
    const { principal, refusal: certificateRefusal } = this.certificatePrincipal(accepted);
    if (principal !== undefined) {
      this.log.info(
        { client: `${accepted.remoteAddress}:${accepted.remotePort}`, listener: label, principal },
        "client certificate accepted",
      );
    }
    if (certificateRefusal) {
      this.admission.release(address);
      this.refuse("client_certificate", address, certificateRefusal);
      accepted.refuse();
      return;
    }
    this.metrics.connectionsAccepted.labels(label).inc();
    this.metrics.connections.labels(label).inc();
    const sasl = this.config.clientSecurity.sasl && this.config.clientSecurity.mode === "terminate";
    const connection = new ClientConnection(accepted, {
      principal,
      passthroughSasl:
        this.config.clientSecurity.mode === "passthrough" && this.config.clientSecurity.sasl !== undefined,
      authentication:
        sasl && this.authenticator
          ? new ConnectionAuthentication(this.authenticator, this.config.clientSecurity.maxReauthMs)
          : undefined,
      authenticationTimeoutMs: this.config.clientSecurity.authenticationTimeoutMs,
      id: this.nextConnectionId++,
      listener: label,
      nodeId,
      maxFrameBytes: this.config.maxFrameBytes,
      maxInFlightBytes: this.config.maxInFlightBytes,
      maxInFlightRequests: this.config.maxInFlightRequests,
      budget: this.budget,
      connectTimeoutMs: this.config.connectionTimeoutMs,
      requestTimeoutMs: this.config.requestTimeoutMs,
      connectionsMaxIdleMs: this.config.connectionsMaxIdleMs,
      firstFrameTimeoutMs: this.config.firstFrameTimeoutMs,
      log: this.log,
      chain: this.chain,
      metrics: this.metrics,
      upstreams: this.upstreams,
      onClosed: (closed) => {
        this.connections.delete(closed);
        this.admission.release(address);
        this.metrics.connections.labels(label).dec();
      },
    });
    if (!connection.isClosed) this.connections.add(connection);
  }

  private refuse(reason: RefusalReason, address: string | undefined, detail?: string): void {
    this.metrics.connectionsRejected.labels(reason).inc();
    this.refusals.note(reason, address, detail);
  }
}

/** Node TLS server options from the config's PEM files (read now, at start). */
function clientTlsOptions(settings: NonNullable<ProxyConfig["clientSecurity"]["tls"]>): TlsOptions {
  const context: SecureContextOptions = {
    cert: readFileSync(settings.certPath),
    key: readFileSync(settings.keyPath),
    passphrase: settings.keyPassword,
  };
  if (settings.caCertPath) context.ca = readFileSync(settings.caCertPath);
  return {
    ...context,
    requestCert: settings.clientAuth !== "none",
    rejectUnauthorized: settings.clientAuth === "required",
  };
}
