import { EventEmitter } from "node:events";
import type { Logger } from "../log/logger.ts";
import type { BrokerAddress } from "../net/upstream.ts";

/** A broker of an upstream cluster, by the cluster's own node id. */
export interface UpstreamBroker {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

/** One upstream cluster's state as operators see it. */
export interface ClusterHealth {
  reachable: boolean;
  /** Live brokers known. */
  brokers: number;
  lastRefresh: string | null;
  lastError: { at: string; message: string } | null;
}

/** What one broker says of its cluster. */
export interface ClusterDescription {
  clusterId: string | null;
  brokers: UpstreamBroker[];
}

export interface UpstreamClusterOptions {
  /** The cluster's name in the proxy's config. */
  name: string;
  bootstrapServers: BrokerAddress[];
  /** Asks the broker at `address` for the cluster's id and brokers. */
  describe(address: BrokerAddress): Promise<ClusterDescription>;
  /** 0: no background refresh (brokers are still looked up when a request needs one the proxy does not know). */
  refreshIntervalMs: number;
  /** How long a broker that left the metadata keeps its address (and its client-facing listener). */
  departedLingerMs: number;
  log: Logger;
}

function sameBroker(a: UpstreamBroker | undefined, b: UpstreamBroker): boolean {
  return a !== undefined && a.host === b.host && a.port === b.port && a.rack === b.rack;
}

/**
 * One upstream cluster's brokers, refreshed on a timer and from every response that names brokers. Emits
 * "brokers" whenever the live or lingering set changes.
 *
 * A broker missing from one refresh lingers: a restarting broker drops out of the metadata for a few seconds,
 * and brokers disagree about it meanwhile, so its listener and last address stay until it has been gone for
 * `departedLingerMs`.
 */
export class UpstreamCluster extends EventEmitter {
  readonly name: string;
  private readonly brokers = new Map<number, UpstreamBroker>();
  private readonly departed = new Map<number, { broker: UpstreamBroker; since: number }>();
  private readonly options: UpstreamClusterOptions;
  private timer: NodeJS.Timeout | undefined;
  private rotation = 0;
  private stopped = false;
  private refreshing: Promise<void> | undefined;
  /** The cluster's own id, once a broker has said it. */
  clusterId: string | null = null;
  /** When the last metadata refresh succeeded (ms since the epoch), and why the last one failed, if it did. */
  private lastRefreshAt: number | undefined;
  private lastFailure: { at: number; message: string } | undefined;

  constructor(options: UpstreamClusterOptions) {
    super();
    this.name = options.name;
    this.options = options;
  }

  get isReady(): boolean {
    return this.brokers.size > 0;
  }

  /** Ready, and its last metadata refresh succeeded: the cluster answers now. */
  get isReachable(): boolean {
    return this.isReady && this.lastFailure === undefined;
  }

  /** What /readyz and /admin/status tell of this cluster. */
  health(): ClusterHealth {
    return {
      reachable: this.isReachable,
      brokers: this.brokers.size,
      lastRefresh: this.lastRefreshAt === undefined ? null : new Date(this.lastRefreshAt).toISOString(),
      lastError: this.lastFailure
        ? { at: new Date(this.lastFailure.at).toISOString(), message: this.lastFailure.message }
        : null,
    };
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

  broker(nodeId: number): UpstreamBroker | undefined {
    return this.brokers.get(nodeId) ?? this.departed.get(nodeId)?.broker;
  }

  /** Some live broker's id, rotating; undefined before the first metadata refresh. */
  anyNodeId(): number | undefined {
    const ids = [...this.brokers.keys()];
    if (ids.length === 0) return undefined;
    return ids[this.rotation++ % ids.length];
  }

  /** An address for a bootstrap connection: known brokers in turn, then the configured servers. */
  anyAddress(): BrokerAddress {
    const candidates: BrokerAddress[] = [...this.brokers.values(), ...this.options.bootstrapServers];
    return candidates[this.rotation++ % candidates.length]!;
  }

  learnClusterId(clusterId: string | null): void {
    if (clusterId && clusterId !== this.clusterId) {
      this.clusterId = clusterId;
      this.emit("cluster-id", clusterId);
    }
  }

  /** Adds brokers seen in a response; never removes (only a full refresh does). */
  learn(brokers: Iterable<UpstreamBroker>): void {
    let changed = false;
    for (const broker of brokers) {
      if (sameBroker(this.brokers.get(broker.nodeId), broker)) continue;
      this.brokers.set(broker.nodeId, { ...broker });
      this.departed.delete(broker.nodeId);
      changed = true;
    }
    if (changed) this.emit("brokers");
  }

  private replaceAll(brokers: UpstreamBroker[], now = Date.now()): void {
    const next = new Map(brokers.map((b) => [b.nodeId, b]));
    let changed = next.size !== this.brokers.size;
    for (const [id, broker] of next) {
      if (!sameBroker(this.brokers.get(id), broker)) changed = true;
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
    if (this.options.refreshIntervalMs > 0) {
      this.timer = setInterval(() => void this.refresh().catch(() => {}), this.options.refreshIntervalMs);
      this.timer.unref();
    }
    await this.refresh();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  refresh(): Promise<void> {
    this.refreshing ??= this.refreshOnce().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refreshOnce(): Promise<void> {
    if (this.stopped) return;
    const attempts = this.brokers.size + this.options.bootstrapServers.length;
    let lastError: Error | undefined;
    for (let i = 0; i < attempts; i++) {
      try {
        const described = await this.options.describe(this.anyAddress());
        this.learnClusterId(described.clusterId);
        this.replaceAll(described.brokers);
        this.lastRefreshAt = Date.now();
        if (this.lastFailure) {
          this.options.log.info(
            { cluster: this.name, lastFailedAt: new Date(this.lastFailure.at).toISOString() },
            "metadata refresh succeeds again",
          );
        }
        this.lastFailure = undefined;
        return;
      } catch (error) {
        lastError = error as Error;
      }
    }
    this.lastFailure = { at: Date.now(), message: lastError?.message ?? "no broker answered" };
    this.options.log.warn(
      { cluster: this.name, err: lastError?.message },
      "metadata refresh failed on every known broker",
    );
    throw lastError ?? new Error("metadata refresh failed");
  }
}
