import { EventEmitter } from "node:events";
import type { HostPort } from "../config/load.ts";
import type { Logger } from "../log/logger.ts";
import { type BrokerAddress, UpstreamConnection } from "../net/upstream.ts";

export interface UpstreamBroker {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface ClusterViewOptions {
  bootstrapServers: HostPort[];
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  refreshIntervalMs: number;
  /** How long a broker that left the metadata keeps its address (and its client-facing listener). */
  departedLingerMs: number;
  log: Logger;
}

const METADATA = 3;
const METADATA_VERSION = 12;

/**
 * The proxy's own picture of the upstream cluster's brokers, refreshed on a timer and from every Metadata
 * response that passes through. Emits "brokers" whenever the live or lingering set changes.
 *
 * A broker missing from one refresh lingers: a restarting broker drops out of the metadata for a few seconds,
 * and brokers disagree about it meanwhile, so its listener and last address stay until it has been gone for
 * `departedLingerMs`.
 */
export class ClusterView extends EventEmitter {
  private readonly brokers = new Map<number, UpstreamBroker>();
  private readonly departed = new Map<number, { broker: UpstreamBroker; since: number }>();
  private readonly options: ClusterViewOptions;
  private timer: NodeJS.Timeout | undefined;
  private connection: UpstreamConnection | undefined;
  private bootstrapIndex = 0;
  private stopped = false;
  private refreshing: Promise<void> | undefined;
  clusterId: string | null = null;
  controllerId = -1;
  lastRefreshAt = 0;

  constructor(options: ClusterViewOptions) {
    super();
    this.options = options;
  }

  get isReady(): boolean {
    return this.brokers.size > 0;
  }

  list(): UpstreamBroker[] {
    return [...this.brokers.values()].sort((a, b) => a.nodeId - b.nodeId);
  }

  /** Live brokers plus those still lingering after they left: the brokers that keep a listener. */
  listenable(): UpstreamBroker[] {
    const all = [...this.brokers.values()];
    for (const { broker } of this.departed.values()) all.push(broker);
    return all.sort((a, b) => a.nodeId - b.nodeId);
  }

  isLive(nodeId: number): boolean {
    return this.brokers.has(nodeId);
  }

  address(nodeId: number): BrokerAddress | undefined {
    return this.brokers.get(nodeId) ?? this.departed.get(nodeId)?.broker;
  }

  /** Some live broker's id, rotating; undefined before the first metadata refresh. */
  anyNodeId(): number | undefined {
    const ids = [...this.brokers.keys()];
    if (ids.length === 0) return undefined;
    return ids[this.bootstrapIndex++ % ids.length];
  }

  /** An upstream address for a bootstrap connection: known brokers in turn, then the configured servers. */
  anyAddress(): BrokerAddress {
    const candidates: BrokerAddress[] = [...this.brokers.values(), ...this.options.bootstrapServers];
    const chosen = candidates[this.bootstrapIndex % candidates.length]!;
    this.bootstrapIndex++;
    return chosen;
  }

  /** Adds brokers seen in a response; never removes (only a full refresh does). */
  learn(brokers: Iterable<UpstreamBroker>): void {
    let changed = false;
    for (const broker of brokers) {
      const known = this.brokers.get(broker.nodeId);
      if (!known || known.host !== broker.host || known.port !== broker.port || known.rack !== broker.rack) {
        this.brokers.set(broker.nodeId, { ...broker });
        this.departed.delete(broker.nodeId);
        changed = true;
      }
    }
    if (changed) this.emit("brokers");
  }

  private replaceAll(brokers: UpstreamBroker[], now = Date.now()): void {
    const next = new Map(brokers.map((b) => [b.nodeId, b]));
    let changed = next.size !== this.brokers.size;
    for (const [id, broker] of next) {
      const known = this.brokers.get(id);
      if (!known || known.host !== broker.host || known.port !== broker.port || known.rack !== broker.rack)
        changed = true;
      this.departed.delete(id);
    }
    for (const [id, broker] of this.brokers) {
      if (!next.has(id)) this.departed.set(id, { broker, since: now });
    }
    for (const [id, { since }] of this.departed) {
      if (now - since >= this.options.departedLingerMs) {
        this.departed.delete(id);
        changed = true;
      }
    }
    this.brokers.clear();
    for (const [id, broker] of next) this.brokers.set(id, broker);
    if (changed) this.emit("brokers");
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => void this.refresh().catch(() => {}), this.options.refreshIntervalMs);
    this.timer.unref();
    await this.refresh();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.connection?.close();
  }

  refresh(): Promise<void> {
    if (!this.refreshing) {
      this.refreshing = this.refreshOnce().finally(() => {
        this.refreshing = undefined;
      });
    }
    return this.refreshing;
  }

  private async refreshOnce(): Promise<void> {
    if (this.stopped) return;
    const attempts = Math.max(this.brokers.size, 0) + this.options.bootstrapServers.length;
    let lastError: Error | undefined;
    for (let i = 0; i < attempts; i++) {
      try {
        const connection = await this.ensureConnection();
        const body = await this.requestMetadata(connection);
        this.clusterId = body.clusterId ?? null;
        this.controllerId = body.controllerId;
        this.replaceAll(
          body.brokers.map((b: { nodeId: number; host: string; port: number; rack: string | null }) => ({
            nodeId: b.nodeId,
            host: b.host,
            port: b.port,
            rack: b.rack ?? null,
          })),
        );
        this.lastRefreshAt = Date.now();
        return;
      } catch (error) {
        lastError = error as Error;
        this.connection?.close();
        this.connection = undefined;
      }
    }
    this.options.log.warn({ err: lastError?.message }, "metadata refresh failed on every known broker");
    throw lastError ?? new Error("metadata refresh failed");
  }

  private async ensureConnection(): Promise<UpstreamConnection> {
    if (this.connection?.isConnected) return this.connection;
    const connection = new UpstreamConnection(this.anyAddress(), {
      connectTimeoutMs: this.options.connectTimeoutMs,
      requestTimeoutMs: this.options.requestTimeoutMs,
      maxFrameBytes: 512 * 1024 * 1024,
      log: this.options.log,
      label: "metadata",
    });
    connection.on("close", () => {
      if (this.connection === connection) this.connection = undefined;
    });
    this.connection = connection;
    await connection.ready;
    return connection;
  }

  // biome-ignore lint/suspicious/noExplicitAny: generated Metadata response body
  private requestMetadata(connection: UpstreamConnection): Promise<any> {
    return connection.request(
      METADATA,
      METADATA_VERSION,
      { topics: [], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false },
      { clientId: "kafka-partition-proxy" },
    ).response;
  }
}
