import type { Logger } from "../log/logger.ts";
import { type BrokerAddress, UpstreamConnection } from "./upstream.ts";

export interface UpstreamPoolOptions {
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  log: Logger;
  addressOf(nodeId: number): BrokerAddress | undefined;
}

/** The proxy's own connections to brokers, shared by every client, for requests the proxy makes itself. */
export class UpstreamPool {
  private readonly connections = new Map<number, UpstreamConnection>();
  private readonly options: UpstreamPoolOptions;
  private closed = false;

  constructor(options: UpstreamPoolOptions) {
    this.options = options;
  }

  request(
    nodeId: number,
    apiKey: number,
    apiVersion: number,
    body: unknown,
    clientId = "kafka-partition-proxy",
    // biome-ignore lint/suspicious/noExplicitAny: generated response body
  ): Promise<any> {
    const connection = this.connection(nodeId);
    if (!connection) return Promise.reject(new Error(`no address is known for broker ${nodeId}`));
    return connection.request(apiKey, apiVersion, body, { clientId }).response;
  }

  close(): void {
    this.closed = true;
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
  }

  private connection(nodeId: number): UpstreamConnection | undefined {
    if (this.closed) return undefined;
    const existing = this.connections.get(nodeId);
    if (existing?.isOpen) return existing;
    const address = this.options.addressOf(nodeId);
    if (!address) return undefined;
    const connection = new UpstreamConnection(address, {
      connectTimeoutMs: this.options.connectTimeoutMs,
      requestTimeoutMs: this.options.requestTimeoutMs,
      maxFrameBytes: 512 * 1024 * 1024,
      log: this.options.log,
      label: `pool-${nodeId}`,
    });
    connection.on("close", () => {
      if (this.connections.get(nodeId) === connection) this.connections.delete(nodeId);
    });
    this.connections.set(nodeId, connection);
    return connection;
  }
}
