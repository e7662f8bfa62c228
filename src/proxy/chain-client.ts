import type { ClientConnectionInfo, ConnectionStateKey, ExchangeInfo } from "../feature-api/feature.ts";
import type { ProxyRequestOptions, ProxyRequests } from "../feature-api/services.ts";
import type { Logger } from "../log/logger.ts";
import type { ApiKey, RequestOf, ResponseOf } from "../protocol/api.ts";
import type { Topology } from "../topology/topology.ts";
import type { Chain, ExchangeScope } from "./chain.ts";

export const PROXY_CLIENT_ID = "kafka-partition-proxy";

/** The connection the proxy's own requests through the chain belong to. */
class InternalConnection implements ClientConnectionInfo {
  readonly id = 0;
  readonly remote = "internal";
  readonly listener = "internal";
  readonly nodeId = undefined;
  readonly clientId = PROXY_CLIENT_ID;
  readonly principal = undefined;
  readonly internal = true;
  private readonly states = new Map<ConnectionStateKey<unknown>, unknown>();

  state<T>(key: ConnectionStateKey<T>): T {
    let value = this.states.get(key) as T | undefined;
    if (value === undefined) {
      value = key.create();
      this.states.set(key, value);
    }
    return value;
  }
}

/**
 * The proxy's own requests in the clients' view: they pass through every feature of the chain, as a client's
 * would, so that the admin API and the operations see virtual partitions, merged clusters and the virtual node
 * ids, then go to the brokers over the topology's shared connections. Bound to the chain once it is built.
 */
export class ChainClient implements ProxyRequests {
  private readonly topology: Topology;
  private readonly log: Logger;
  private chain: Chain | undefined;
  private readonly connection = new InternalConnection();
  private nextCorrelationId = 1;

  constructor(topology: Topology, log: Logger) {
    this.topology = topology;
    this.log = log;
  }

  bind(chain: Chain): void {
    this.chain = chain;
  }

  async request<K extends ApiKey>(
    apiKey: K,
    request: RequestOf<K>,
    options: ProxyRequestOptions = {},
  ): Promise<ResponseOf<K>> {
    const chain = this.chain;
    if (!chain) throw new Error("the proxy's chain is not built yet");
    const admin = this.topology.admin;
    const apiVersion =
      options.apiVersion ?? (await admin.versionFor(options.nodeId, apiKey, options.versions));
    const info: ExchangeInfo<K> = {
      apiKey,
      apiVersion,
      connection: this.connection,
      log: this.log,
      requestFrame: undefined,
      nodeId: options.nodeId,
    };
    const scope: ExchangeScope = {
      info,
      correlationId: this.nextCorrelationId++,
      upstream: {
        request: (key, version, body, sendOptions) =>
          admin.requestAt(sendOptions?.nodeId ?? info.nodeId, key, version, body, PROXY_CLIENT_ID),
      },
      // The caller reads the response after this returns: its buffers are left to the garbage collector.
      releaseAfterReply: () => {},
      discardAfterReply: () => {},
    };
    return chain.run(scope, info, request, undefined);
  }
}
