import type { PartitionData } from "../../protocol/generated/messages/fetch-response.ts";

const STATE_KEY = "virtualization.read-ahead";

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

interface PendingReadAhead {
  readonly pending: Promise<AheadReads | undefined>;
  /** Gives the bytes back once the reads arrive; called when the connection closes with them unused. */
  dispose(): void;
}

/** Stores a connection's pending read-ahead, whose bytes `budget` holds, replacing any earlier one. */
export function putReadAhead(
  state: Map<string, unknown>,
  pending: Promise<AheadReads | undefined>,
  budget: ReadAheadBudget,
): void {
  (state.get(STATE_KEY) as PendingReadAhead | undefined)?.dispose();
  const guarded = pending.catch(() => undefined);
  state.set(STATE_KEY, {
    pending: guarded,
    dispose: () => void guarded.then((reads) => budget.release(heldBytes(reads))),
  } satisfies PendingReadAhead);
}

/** Takes the connection's read-ahead, waiting for it when it is still on its way; its bytes are released. */
export async function takeReadAhead(
  state: Map<string, unknown>,
  budget: ReadAheadBudget,
): Promise<AheadReads | undefined> {
  const entry = state.get(STATE_KEY) as PendingReadAhead | undefined;
  if (!entry) return undefined;
  state.delete(STATE_KEY);
  const reads = await entry.pending;
  budget.release(heldBytes(reads));
  return reads;
}
