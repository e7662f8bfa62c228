import { ConnectionStateKey } from "../../../feature-api/feature.ts";
import type { PartitionData } from "../../../protocol/generated/messages/fetch-response.ts";

/** One physical partition read ahead of the client: the records from `fetchOffset` on. */
export interface AheadRead {
  readonly fetchOffset: bigint;
  readonly data: PartitionData;
  readonly bytes: number;
}

/**
 * Reads a connection's consumer will ask for next, by `${topicKey}/${p}`, while it is still busy, and the pooled
 * response frame their records point into.
 */
export interface AheadReads {
  readonly reads: Map<string, AheadRead>;
  readonly frame: Buffer | undefined;
}

/**
 * The proxy's read-ahead budget across connections: a read ahead is kept only while the bytes held stay
 * under the limit, and the bytes are given back when it is used or dropped.
 */
export class ReadAheadBudget {
  private held = 0;
  readonly limitBytes: number;

  constructor(limitBytes: number) {
    this.limitBytes = limitBytes;
  }

  get heldBytes(): number {
    return this.held;
  }

  tryHold(bytes: number): boolean {
    if (this.held + bytes > this.limitBytes) return false;
    this.held += bytes;
    return true;
  }

  release(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
  }
}

export function aheadKey(topicKey: string, p: number): string {
  return `${topicKey}/${p}`;
}

function heldBytes(reads: AheadReads | undefined): number {
  let bytes = 0;
  if (reads) for (const read of reads.reads.values()) bytes += read.bytes;
  return bytes;
}

/**
 * A connection's read-ahead: at most one, still on its way or arrived, whose bytes a budget holds. Disposed
 * with the connection, giving the bytes of an unused read-ahead back once it arrives.
 */
export class PendingReadAhead {
  private pending: Promise<AheadReads | undefined> | undefined;
  private budget: ReadAheadBudget | undefined;

  /** Keeps `pending`, whose bytes `budget` holds, in place of any earlier read-ahead. */
  put(pending: Promise<AheadReads | undefined>, budget: ReadAheadBudget): void {
    this.dispose();
    this.pending = pending.catch(() => undefined);
    this.budget = budget;
  }

  /** Takes the read-ahead, waiting for it when it is still on its way; its bytes are released. */
  async take(): Promise<AheadReads | undefined> {
    const { pending, budget } = this;
    if (!pending || !budget) return undefined;
    this.pending = this.budget = undefined;
    const reads = await pending;
    budget.release(heldBytes(reads));
    return reads;
  }

  dispose(): void {
    const { pending, budget } = this;
    if (!pending || !budget) return;
    this.pending = this.budget = undefined;
    void pending.then((reads) => budget.release(heldBytes(reads)));
  }
}

/** Each connection's read-ahead of virtualized fetches. */
export const READ_AHEAD = new ConnectionStateKey("virtualization.read-ahead", () => new PendingReadAhead());
