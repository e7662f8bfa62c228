/** What the runtime tells of one client connection. */
export interface ConnectionSource {
  readonly id: number;
  readonly remote: string;
  readonly listener: string;
  readonly clientId: string | null;
  readonly principal: string | undefined;
  /** Accepted at (ms since the epoch). */
  readonly openedAt: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly inFlight: number;
}

export interface ConnectionView {
  readonly id: number;
  readonly address: string;
  readonly listener: string;
  readonly clientId: string | null;
  readonly principal: string | null;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly ageSeconds: number;
  readonly requestsInFlight: number;
}

export function describeConnections(
  connections: Iterable<ConnectionSource>,
  now = Date.now(),
): ConnectionView[] {
  const out: ConnectionView[] = [];
  for (const connection of connections) {
    out.push({
      id: connection.id,
      address: connection.remote,
      listener: connection.listener,
      clientId: connection.clientId,
      principal: connection.principal ?? null,
      bytesIn: connection.bytesIn,
      bytesOut: connection.bytesOut,
      ageSeconds: Math.max(0, Math.round((now - connection.openedAt) / 100) / 10),
      requestsInFlight: connection.inFlight,
    });
  }
  return out.sort((a, b) => a.id - b.id);
}
