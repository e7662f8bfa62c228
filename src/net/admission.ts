import type { Logger } from "../log/logger.ts";

/** Why a client connection was refused (the `reason` label of kpp_client_connections_rejected_total). */
export type RefusalReason =
  | "max_connections"
  | "max_connections_per_ip"
  | "accept_failed"
  | "tls_handshake_failed"
  | "client_certificate"
  | "unknown_server_name";

export interface AdmissionLimits {
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** Per-address caps replacing maxConnectionsPerIp, keyed by normalized address. */
  perIpOverrides: ReadonlyMap<string, number>;
}

/**
 * Counts client connections, in all and per address, and decides whether one more may be accepted: the total
 * cap, and a per-address cap below it so that one address cannot take every connection. Addresses must be
 * normalized the same way as the override keys (`normalizeClientAddress`).
 */
export class ConnectionAdmission {
  private readonly limits: AdmissionLimits;
  private readonly perIp = new Map<string, number>();
  private total = 0;

  constructor(limits: AdmissionLimits) {
    this.limits = limits;
  }

  get connections(): number {
    return this.total;
  }

  /** Connections counted for `address`. */
  connectionsFrom(address: string): number {
    return this.perIp.get(address) ?? 0;
  }

  capFor(address: string): number {
    return this.limits.perIpOverrides.get(address) ?? this.limits.maxConnectionsPerIp;
  }

  /** Counts a new connection from `address`, or returns why it must be refused (nothing is counted then). */
  admit(address: string): RefusalReason | undefined {
    if (this.total >= this.limits.maxConnections) return "max_connections";
    const current = this.perIp.get(address) ?? 0;
    if (current >= this.capFor(address)) return "max_connections_per_ip";
    this.perIp.set(address, current + 1);
    this.total++;
    return undefined;
  }

  /** Forgets a connection `admit` counted. */
  release(address: string): void {
    const current = this.perIp.get(address);
    if (current === undefined) return;
    if (current <= 1) this.perIp.delete(address);
    else this.perIp.set(address, current - 1);
    this.total--;
  }
}

/** Addresses named in one summary line; the others are added up under "others". */
const SUMMARY_ADDRESSES = 10;
/** Addresses counted per interval; refusals from further ones are counted as "others" only. */
const TRACKED_ADDRESSES = 1000;
export const REFUSAL_LOG_INTERVAL_MS = 10_000;

/**
 * Logs refused connections at a bounded rate: the first refusal after a quiet interval at once, then one summary
 * line per interval with the counts by reason and the busiest addresses, however many there were.
 */
export class RefusalLog {
  private readonly log: Logger;
  private readonly intervalMs: number;
  private readonly describeLimits: () => Record<string, unknown>;
  private timer: NodeJS.Timeout | undefined;
  private byReason = new Map<string, number>();
  private byAddress = new Map<string, number>();
  private others = 0;

  constructor(
    log: Logger,
    describeLimits: () => Record<string, unknown>,
    intervalMs = REFUSAL_LOG_INTERVAL_MS,
  ) {
    this.log = log;
    this.describeLimits = describeLimits;
    this.intervalMs = intervalMs;
  }

  /** Notes a refusal; `detail` (e.g. an accept error's code) is part of the reason in the log. */
  note(reason: RefusalReason, address: string | undefined, detail?: string): void {
    const key = detail ? `${reason} (${detail})` : reason;
    if (!this.timer) {
      this.log.warn(
        { reason: key, client: address, ...this.describeLimits(), interval_ms: this.intervalMs },
        "refusing client connection; further refusals are summarized once per interval",
      );
      this.timer = setTimeout(() => this.flush(), this.intervalMs);
      this.timer.unref();
      return;
    }
    this.byReason.set(key, (this.byReason.get(key) ?? 0) + 1);
    if (address === undefined) return;
    const seen = this.byAddress.get(address);
    if (seen !== undefined) this.byAddress.set(address, seen + 1);
    else if (this.byAddress.size < TRACKED_ADDRESSES) this.byAddress.set(address, 1);
    else this.others++;
  }

  /** Logs the summary of the interval now ending; the next refusal after a quiet interval is logged at once. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.byReason.size === 0) return;
    let count = 0;
    for (const n of this.byReason.values()) count += n;
    const busiest = [...this.byAddress].sort((a, b) => b[1] - a[1]);
    const addresses: Record<string, number> = Object.fromEntries(busiest.slice(0, SUMMARY_ADDRESSES));
    let rest = this.others;
    for (const [, n] of busiest.slice(SUMMARY_ADDRESSES)) rest += n;
    if (rest > 0) addresses.others = rest;
    this.log.warn(
      {
        refused: Object.fromEntries(this.byReason),
        addresses,
        ...this.describeLimits(),
        interval_ms: this.intervalMs,
      },
      `refused ${count} more client connection(s) in the last ${this.intervalMs / 1000} s`,
    );
    this.byReason = new Map();
    this.byAddress = new Map();
    this.others = 0;
    this.timer = setTimeout(() => this.flush(), this.intervalMs);
    this.timer.unref();
  }

  /** Logs what is pending and stops the timer. */
  stop(): void {
    this.flush();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
