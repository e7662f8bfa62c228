import { ZERO_UUID } from "../../protocol/api.ts";

/** What the proxy's topic directory offers: names by id, and a lookup of ids it does not know yet. */
export interface TopicIdDirectory {
  nameOf(id: string): string | undefined;
  resolveIds(ids: string[]): Promise<void>;
}

/** An id the cluster did not know is not looked up again for this long. */
const UNKNOWN_ID_RETRY_MS = 10_000;

/**
 * Topic names of requests that name topics by id (Produce v13+, Fetch v13+). An id the directory does not know
 * yet may be a limited topic, so its request is taken and the id looked up once; ids the cluster does not know
 * either are left alone for a while.
 */
export class TopicNames {
  private readonly directory: TopicIdDirectory;
  private readonly unknownSince = new Map<string, number>();

  constructor(directory: TopicIdDirectory) {
    this.directory = directory;
  }

  nameOf(id: string): string | undefined {
    return this.directory.nameOf(id);
  }

  /** Whether an id is worth looking up before deciding (unknown, and not found lately). */
  needsLookup(id: string, nowMs: number = Date.now()): boolean {
    if (id === ZERO_UUID || this.directory.nameOf(id) !== undefined) return false;
    const since = this.unknownSince.get(id);
    return since === undefined || nowMs - since >= UNKNOWN_ID_RETRY_MS;
  }

  /** Looks the ids up that need it; a failed lookup leaves them unknown (their bytes are then not counted). */
  async resolve(ids: Iterable<string>): Promise<void> {
    const wanted = [...ids].filter((id) => this.needsLookup(id));
    if (wanted.length === 0) return;
    try {
      await this.directory.resolveIds(wanted);
    } catch {
      // Counted as unknown below.
    }
    const now = Date.now();
    for (const id of wanted) if (this.directory.nameOf(id) === undefined) this.unknownSince.set(id, now);
    if (this.unknownSince.size > 10_000) this.unknownSince.clear();
  }
}
