/** The placeholder for a node id in `listen.security.tls.sni.broker_host_pattern`. */
export const NODE_ID_PLACEHOLDER = "$(nodeId)";

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * The host names of one TLS port that serves every broker (SNI): the bootstrap name, and one name per virtual
 * node made from a pattern such as `broker-$(nodeId).kafka.example.com`. Names compare case-insensitively, as
 * DNS names do.
 */
export class SniNames {
  readonly bootstrapHost: string;
  private readonly pattern: string;
  private readonly nodeName: RegExp;

  constructor(bootstrapHost: string, brokerHostPattern: string) {
    this.bootstrapHost = bootstrapHost.toLowerCase();
    this.pattern = brokerHostPattern;
    const [before = "", after = ""] = brokerHostPattern
      .split(NODE_ID_PLACEHOLDER)
      .map((part) => part.toLowerCase());
    this.nodeName = new RegExp(`^${escapeRegExp(before)}(\\d{1,9})${escapeRegExp(after)}$`);
  }

  /** The name clients reach a virtual node at. */
  hostOf(nodeId: number): string {
    return this.pattern.replace(NODE_ID_PLACEHOLDER, String(nodeId));
  }

  /**
   * Where a client that asked for `serverName` goes: "bootstrap" (also when it sent no name), a virtual node id,
   * or undefined for a name this port does not serve.
   */
  targetOf(serverName: string | undefined): "bootstrap" | number | undefined {
    if (serverName === undefined) return "bootstrap";
    const name = serverName.toLowerCase();
    if (name === this.bootstrapHost) return "bootstrap";
    const match = this.nodeName.exec(name);
    return match ? Number(match[1]) : undefined;
  }
}
