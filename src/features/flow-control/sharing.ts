import type { Logger } from "../../log/logger.ts";
import type { QuotaSharing } from "./config.ts";

/** One flow's recent usage at one instance, as instances tell each other. */
export interface FlowUsage {
  /** Bytes per second over the last exchange interval. */
  readonly rate: number;
  /** Whether it was throttled then: it wants more than it got. */
  readonly throttled: boolean;
}

export type UsageReport = Readonly<Record<string, FlowUsage>>;

interface PeerView {
  usage: UsageReport;
  receivedMs: number;
}

/** A peer's report older than this many intervals counts as unreachable. */
const STALE_INTERVALS = 3;
/** An instance that was not throttled is given what it used times this, so it can grow before it is throttled. */
const UNTHROTTLED_HEADROOM = 1.25;
/** Every instance is given at least this part of an equal share, so one that starts sending is not starved. */
const FLOOR_OF_EQUAL_SHARE = 0.1;

/**
 * The shares of each limit among the instances of a deployment. Each instance reads its peers' recent usage
 * (their admin API's `/api/quotas/usage`) every interval and takes the part of each limit its demand is of the
 * total demand. While any peer is unreachable or stale it takes the equal share, limit / instances, so the
 * instances together never exceed the limit (fail closed).
 */
export class QuotaSharingExchange {
  private settings: QuotaSharing;
  private readonly peers = new Map<string, PeerView>();
  private local: UsageReport = {};
  private readonly log: Logger;

  constructor(settings: QuotaSharing, log: Logger) {
    this.settings = settings;
    this.log = log;
  }

  get instances(): number {
    return this.settings.instances;
  }

  update(settings: QuotaSharing): void {
    this.settings = settings;
    for (const peer of [...this.peers.keys()]) if (!settings.peers.includes(peer)) this.peers.delete(peer);
  }

  /** Records this instance's usage of the interval just closed. */
  publish(local: UsageReport): void {
    this.local = local;
  }

  /** This instance's usage, as peers read it. */
  report(): UsageReport {
    return this.local;
  }

  /** Whether every peer has reported recently. */
  allPeersFresh(nowMs: number): boolean {
    for (const peer of this.settings.peers) {
      const view = this.peers.get(peer);
      if (!view || nowMs - view.receivedMs > STALE_INTERVALS * this.settings.exchangeIntervalMs) return false;
    }
    return true;
  }

  /**
   * This instance's part (0..1] of flow `key`'s `limit` (bytes per second), shared max-min fairly: an instance
   * that was not throttled gets what it used plus headroom, the throttled ones split the rest equally, and what
   * nobody wants is split equally among all. Every instance computes the same split from the same reports.
   */
  shareOf(key: string, limit: number, nowMs: number = Date.now()): number {
    const { instances, peers } = this.settings;
    if (instances <= 1) return 1;
    const equal = 1 / instances;
    if (peers.length === 0 || !this.allPeersFresh(nowMs)) return equal;
    const floor = (FLOOR_OF_EQUAL_SHARE * limit) / instances;
    const wants: { want: number; mine: boolean }[] = [{ want: wantOf(this.local[key], floor), mine: true }];
    for (const peer of peers)
      wants.push({ want: wantOf(this.peers.get(peer)!.usage[key], floor), mine: false });
    // Instances counted but not listed as peers are unknown: they keep an equal share.
    for (let i = wants.length; i < instances; i++) wants.push({ want: limit * equal, mine: false });
    wants.sort((a, b) => a.want - b.want);
    let remaining = limit;
    let mine = 0;
    wants.forEach((entry, i) => {
      const given = Math.min(entry.want, remaining / (wants.length - i));
      remaining -= given;
      if (entry.mine) mine = given;
    });
    return Math.min(1, (mine + remaining / wants.length) / limit);
  }

  /** Asks every peer for its usage; failures leave that peer stale. */
  async exchange(): Promise<void> {
    const timeoutMs = this.settings.exchangeIntervalMs;
    await Promise.all(
      this.settings.peers.map(async (peer) => {
        try {
          const response = await fetch(`${peer}/api/quotas/usage`, {
            signal: AbortSignal.timeout(timeoutMs),
          });
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
          const body = (await response.json()) as { usage?: UsageReport };
          this.peers.set(peer, { usage: body.usage ?? {}, receivedMs: Date.now() });
        } catch (error) {
          const view = this.peers.get(peer);
          if (!view || Date.now() - view.receivedMs > STALE_INTERVALS * timeoutMs) {
            this.log.debug({ peer, err: (error as Error).message }, "quota peer unreachable: equal shares");
          }
        }
      }),
    );
  }
}

/** What an instance wants of a limit: unbounded once throttled, else what it used with headroom. */
function wantOf(usage: FlowUsage | undefined, floor: number): number {
  if (!usage) return floor;
  return usage.throttled ? Number.POSITIVE_INFINITY : usage.rate * UNTHROTTLED_HEADROOM + floor;
}
