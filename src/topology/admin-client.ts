import type { Logger } from "../log/logger.ts";
import {
  type BrokerAddress,
  UpstreamConnection,
  type UpstreamConnectionCounters,
  type UpstreamSecurity,
} from "../net/upstream.ts";
import type { ApiKey, RequestOf, ResponseOf } from "../protocol/api.ts";
import { type BrokerVersions, pickVersion, probeVersions, type VersionBounds } from "./api-versions.ts";

export type { VersionBounds } from "./api-versions.ts";

export interface AdminRequestOptions {
  /** The virtual node to ask; any live node of the default cluster when absent. */
  nodeId?: number;
  versions?: VersionBounds;
  /** The client id the broker sees (and logs, and applies quotas to); the proxy's own by default. */
  clientId?: string | null;
}

/** How the admin client reaches brokers: the topology's answer for a virtual node. */
export interface AdminRoutes {
  /** The upstream address of a virtual node and the key of its connection, e.g. "main/1". */
  route(nodeId: number):
    | {
        address: BrokerAddress;
        key: string;
        security?: UpstreamSecurity;
        counters?: UpstreamConnectionCounters;
      }
    | undefined;
  /** Some live virtual node of the default cluster. */
  anyNodeId(): number | undefined;
}

export interface AdminClientOptions {
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  log: Logger;
}

interface SharedConnection {
  readonly connection: UpstreamConnection;
  readonly versions: Promise<BrokerVersions>;
}

const PROXY_CLIENT_ID = "kafka-partition-proxy";

/**
 * The proxy's one client for its own requests (metadata, coordinators, companion groups): typed requests over
 * connections shared by every client, one per (upstream cluster, node), each asked once which versions its
 * broker speaks, so every request goes at the newest version both sides know.
 */
export class AdminClient {
  private readonly connections = new Map<string, SharedConnection>();
  private readonly routes: AdminRoutes;
  private readonly options: AdminClientOptions;
  private closed = false;

  constructor(routes: AdminRoutes, options: AdminClientOptions) {
    this.routes = routes;
    this.options = options;
  }

  /** Sends a request at the newest version both the node and the proxy speak (within `versions`). */
  async request<K extends ApiKey>(
    apiKey: K,
    request: RequestOf<K>,
    options: AdminRequestOptions = {},
  ): Promise<ResponseOf<K>> {
    const nodeId = options.nodeId ?? this.routes.anyNodeId();
    if (nodeId === undefined) throw new Error("no upstream broker is known yet");
    const shared = this.connect(nodeId);
    const version = pickVersion(apiKey, `node ${nodeId}`, await shared.versions, options.versions);
    return shared.connection.request(apiKey, version, request, {
      clientId: options.clientId === undefined ? PROXY_CLIENT_ID : options.clientId,
    }).response;
  }

  /**
   * Sends a request to a broker known only by its address (a bootstrap server), at the newest version both
   * sides speak within `versions`.
   */
  async requestToAddress<K extends ApiKey>(
    address: BrokerAddress,
    apiKey: K,
    request: RequestOf<K>,
    versions?: VersionBounds,
    security?: UpstreamSecurity,
  ): Promise<ResponseOf<K>> {
    const key = `${address.host}:${address.port}`;
    const shared = this.connectTo(address, key, security);
    const version = pickVersion(apiKey, key, await shared.versions, versions);
    return shared.connection.request(apiKey, version, request, { clientId: PROXY_CLIENT_ID }).response;
  }

  /** Sends a request at a version the caller chose (one a client asked for). */
  requestAt<K extends ApiKey>(
    /** Any live node of the default cluster when undefined. */
    nodeId: number | undefined,
    apiKey: K,
    apiVersion: number,
    request: RequestOf<K>,
    clientId: string | null = PROXY_CLIENT_ID,
  ): Promise<ResponseOf<K>> {
    let shared: SharedConnection;
    try {
      const target = nodeId ?? this.routes.anyNodeId();
      if (target === undefined) throw new Error("no upstream broker is known yet");
      shared = this.connect(target);
    } catch (error) {
      return Promise.reject(error);
    }
    return shared.connection.request(apiKey, apiVersion, request, { clientId }).response;
  }

  /** The newest version of `apiKey` that the node and the proxy both speak, within `bounds`. */
  async versionFor(nodeId: number | undefined, apiKey: ApiKey, bounds?: VersionBounds): Promise<number> {
    const target = nodeId ?? this.routes.anyNodeId();
    if (target === undefined) throw new Error("no upstream broker is known yet");
    return pickVersion(apiKey, `node ${target}`, await this.connect(target).versions, bounds);
  }

  /** What the node's broker said it speaks (asked once per connection). */
  versionsOf(nodeId: number): Promise<BrokerVersions> {
    try {
      return this.connect(nodeId).versions;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  close(): void {
    this.closed = true;
    for (const { connection } of this.connections.values()) connection.close();
    this.connections.clear();
  }

  private connect(nodeId: number): SharedConnection {
    const route = this.routes.route(nodeId);
    if (!route) throw new Error(`no address is known for node ${nodeId}`);
    return this.connectTo(route.address, route.key, route.security, route.counters);
  }

  private connectTo(
    address: BrokerAddress,
    key: string,
    security?: UpstreamSecurity,
    counters?: UpstreamConnectionCounters,
  ): SharedConnection {
    if (this.closed) throw new Error("the proxy is shutting down");
    const existing = this.connections.get(key);
    if (existing?.connection.isOpen) return existing;
    const connection = new UpstreamConnection(address, {
      connectTimeoutMs: this.options.connectTimeoutMs,
      requestTimeoutMs: this.options.requestTimeoutMs,
      maxFrameBytes: 512 * 1024 * 1024,
      log: this.options.log,
      label: `admin-${key}`,
      sharedByClients: true,
      security,
      counters,
    });
    const versions = probeVersions(connection, PROXY_CLIENT_ID);
    // A connection that could not learn its broker's versions is of no use: it is replaced on the next request.
    versions.catch(() => connection.close());
    const shared = { connection, versions };
    connection.on("close", () => {
      if (this.connections.get(key) === shared) this.connections.delete(key);
    });
    this.connections.set(key, shared);
    return shared;
  }
}
