import { ZERO_UUID } from "../../protocol/api.ts";

/** Where topic names come from for requests that name topics by id (the topology's topic directory fits). */
export interface TopicIdLookup {
  nameOf(id: string): string | undefined;
  /** Looks up ids not known yet; resolves once done (an id the cluster does not know stays without a name). */
  resolveIds?(ids: string[]): Promise<void>;
}

export const NO_TOPIC_IDS: TopicIdLookup = { nameOf: () => undefined };

/** An id the cluster did not know is not looked up again for this long. */
const UNKNOWN_ID_RETRY_MS = 5_000;
const UNKNOWN_IDS_KEPT = 10_000;

/**
 * Names of topics named by id. An id that stays unknown is treated as a topic the principal may not use (it
 * gets UNKNOWN_TOPIC_ID): nothing is passed on that the proxy cannot check. Ids the cluster did not know are
 * not looked up again for a while, so that a client sending made-up ids cannot make the proxy list every topic
 * on each request.
 */
export class TopicNames {
  private readonly lookup: TopicIdLookup;
  private readonly now: () => number;
  private readonly unknownSince = new Map<string, number>();

  constructor(lookup: TopicIdLookup, now: () => number = Date.now) {
    this.lookup = lookup;
    this.now = now;
  }

  nameOf(id: string): string | undefined {
    return id === ZERO_UUID ? undefined : this.lookup.nameOf(id);
  }

  /** Looks up the ids not known yet, when a lookup is possible and worth it; never rejects. */
  async resolve(ids: Iterable<string>): Promise<void> {
    if (!this.lookup.resolveIds) return;
    const now = this.now();
    const wanted: string[] = [];
    for (const id of ids) {
      if (id === ZERO_UUID || this.lookup.nameOf(id) !== undefined) continue;
      const since = this.unknownSince.get(id);
      if (since === undefined || now - since >= UNKNOWN_ID_RETRY_MS) wanted.push(id);
    }
    if (wanted.length === 0) return;
    try {
      await this.lookup.resolveIds(wanted);
    } catch {
      // A failed lookup leaves the ids unknown: they are refused, as unknown ids are.
    }
    for (const id of wanted) {
      if (this.lookup.nameOf(id) !== undefined) {
        this.unknownSince.delete(id);
        continue;
      }
      if (this.unknownSince.size >= UNKNOWN_IDS_KEPT) this.unknownSince.clear();
      this.unknownSince.set(id, now);
    }
  }
}
