import type net from "node:net";
import type { ProxyMetrics } from "../../admin/metrics.ts";
import { framePool } from "../../net/frame-pool.ts";
import type { ByteAccount } from "../../net/upstream.ts";

/** Buffers an exchange is done with once its reply is written. */
export class AfterReply {
  /** Pooled buffers, back to `framePool`. */
  readonly releases: Buffer[] = [];
  /** Buffers freed at once (`framePool.discard`). */
  readonly discards: Buffer[] = [];

  get isEmpty(): boolean {
    return this.releases.length === 0 && this.discards.length === 0;
  }

  settle(): void {
    framePool.releaseAll(this.releases);
    for (const buffer of this.discards) framePool.discard(buffer);
  }
}

/** A response's place in its connection's order, filled once the response is ready. */
export interface ResponseSlot {
  /** The response frame, or its chunks (records referenced, not copied), once it is ready. */
  frame: Buffer | Buffer[] | undefined;
  bytes: number;
  /** The frame is the broker's, unchanged and held by nothing else: its buffer returns to the pool once written. */
  releaseAfterWrite: boolean;
  /** Buffers the response's bytes may point into, given back or freed once it is written. */
  afterWrite: AfterReply | undefined;
  /** Set once the response has been streamed to the client. */
  sent: boolean;
  readonly apiKey: number;
  /** `performance.now()` when the request arrived. */
  readonly arrivedAt: number;
  /** The most bytes the request lets its response hold, counted in `promisedBytes` until it is written. */
  readonly promisedBytes: number;
}

export interface ResponseQueueHooks {
  /** The client reads too slowly: stop reading broker responses until its socket drains. */
  pauseUpstream(): void;
  /**
   * Responses waiting for an earlier one passed the bound (true) or fell back under it (false): stop or resume
   * taking new requests. The broker side goes on being read, since the earlier response may still need it.
   */
  holdRequests(held: boolean): void;
}

const COMPACT_AFTER_SLOTS = 1024;

/**
 * The responses of one client connection, written in request order: a slot is taken when a request arrives and
 * filled when its response is ready. Bounds the bytes waiting for the client: when the socket is full the broker
 * side stops being read until it drains, and past `maxPendingBytes` of responses parked behind an unfinished
 * one no new request is taken.
 */
export class ResponseQueue {
  private readonly slots: ResponseSlot[] = [];
  private head = 0;
  private pendingBytes = 0;
  private promised = 0;
  private holdingRequests = false;
  private readonly socket: net.Socket;
  private readonly metrics: ProxyMetrics;
  private readonly maxPendingBytes: number;
  private readonly hooks: ResponseQueueHooks;
  private readonly account: ByteAccount | undefined;
  /** What `account` holds for this queue: parked responses and the socket's unwritten bytes. */
  private accounted = 0;

  constructor(
    socket: net.Socket,
    metrics: ProxyMetrics,
    maxPendingBytes: number,
    hooks: ResponseQueueHooks,
    account?: ByteAccount,
  ) {
    this.socket = socket;
    this.metrics = metrics;
    this.maxPendingBytes = maxPendingBytes;
    this.hooks = hooks;
    this.account = account;
  }

  /** Brings the account up to date with the bytes this queue holds (after writes, drains and closes). */
  settleAccount(closed = false): void {
    const account = this.account;
    if (!account) return;
    const held = closed ? 0 : this.pendingBytes + this.socket.writableLength;
    if (held > this.accounted) account.add(held - this.accounted);
    else if (held < this.accounted) account.remove(this.accounted - held);
    this.accounted = held;
  }

  get waiting(): number {
    return this.slots.length - this.head;
  }

  /**
   * What the waiting requests after the oldest let their responses hold (Fetch's maxBytes; see `reserve`): a
   * long poll at the head does not count against the requests behind it.
   */
  get promisedBytesBehindHead(): number {
    return this.promised - (this.slots[this.head]?.promisedBytes ?? 0);
  }

  /** Takes the next place in the order, for a response that may hold up to `promisedBytes`. */
  reserve(apiKey: number, arrivedAt: number, promisedBytes = 0): ResponseSlot {
    const slot: ResponseSlot = {
      frame: undefined,
      bytes: 0,
      releaseAfterWrite: false,
      afterWrite: undefined,
      sent: false,
      apiKey,
      arrivedAt,
      promisedBytes,
    };
    this.promised += promisedBytes;
    this.slots.push(slot);
    return slot;
  }

  /** Whether the slot's turn has come: every response before it has been written. */
  isNext(slot: ResponseSlot): boolean {
    return this.slots[this.head] === slot;
  }

  fill(slot: ResponseSlot, frame: Buffer | Buffer[], bytes: number): void {
    slot.frame = frame;
    slot.bytes = bytes;
    this.pendingBytes += bytes;
  }

  /** Writes every ready response that is next in order. */
  flush(): void {
    const socket = this.socket;
    let wrote = false;
    let writable = true;
    while (this.head < this.slots.length) {
      const slot = this.slots[this.head]!;
      if (slot.sent) {
        this.promised -= slot.promisedBytes;
        this.head++;
        continue;
      }
      const frame = slot.frame;
      if (!frame) break;
      if (!wrote) {
        socket.cork();
        wrote = true;
      }
      this.metrics.observeRequest(slot.apiKey, slot.arrivedAt);
      if (Array.isArray(frame)) {
        const last = frame.length - 1;
        for (let i = 0; i < last; i++) writable = socket.write(frame[i]!);
        const afterWrite = slot.afterWrite;
        writable = socket.write(frame[last]!, afterWrite ? () => afterWrite.settle() : undefined);
      } else {
        writable = socket.write(frame, slot.releaseAfterWrite ? () => framePool.release(frame) : undefined);
      }
      this.pendingBytes -= slot.bytes;
      this.promised -= slot.promisedBytes;
      slot.frame = undefined;
      this.head++;
    }
    if (this.head === this.slots.length) {
      this.slots.length = 0;
      this.head = 0;
    } else if (this.head > COMPACT_AFTER_SLOTS) {
      this.slots.splice(0, this.head);
      this.head = 0;
    }
    if (wrote) socket.uncork();
    this.settleAccount();
    if (!writable) this.hooks.pauseUpstream();
    const over = this.pendingBytes > this.maxPendingBytes;
    if (over !== this.holdingRequests) {
      this.holdingRequests = over;
      this.hooks.holdRequests(over);
    }
  }
}
