export class FrameError extends Error {
  readonly kind: "TOO_LARGE" | "NEGATIVE_LENGTH" | "TLS_ON_PLAINTEXT" | "HTTP_ON_PLAINTEXT";
  constructor(kind: FrameError["kind"], message: string) {
    super(message);
    this.name = "FrameError";
    this.kind = kind;
  }
}

const HTTP_METHODS = ["GET ", "POST", "PUT ", "HEAD", "DELE", "OPTI", "PATC", "CONN", "PRI "];

/** Names the protocol of a first frame that is not Kafka, or returns undefined. */
export function detectForeignProtocol(head: Buffer): FrameError | undefined {
  if (head.length >= 3 && head[0] === 0x16 && head[1] === 0x03 && head[2]! <= 0x04) {
    return new FrameError(
      "TLS_ON_PLAINTEXT",
      "TLS client on a plaintext listener: the first bytes are a TLS handshake (16 03 ..); configure the client for PLAINTEXT or enable TLS on this listener",
    );
  }
  if (head.length >= 4) {
    const text = head.toString("latin1", 0, 4);
    if (HTTP_METHODS.includes(text)) {
      return new FrameError(
        "HTTP_ON_PLAINTEXT",
        `HTTP client on a Kafka listener: the first bytes are "${text.trim()}"; point HTTP tools at the admin port instead`,
      );
    }
  }
  return undefined;
}

/**
 * Receives one frame's bytes as they arrive, in order; `end` follows the last byte. When `borrowed` is true the
 * bytes are valid only during the call (the reader's chunks are a shared read buffer), so a sink that keeps them
 * or writes them to a socket copies them first. Otherwise they are views of the one buffer the frame is assembled
 * in, first shown to `assembling` and given to `end`, and stay valid.
 */
export interface FrameSink {
  assembling?(frame: Buffer): void;
  write(bytes: Buffer, borrowed: boolean): void;
  end(frame?: Buffer): void;
}

/**
 * Offered a frame of at least the reader's streaming size whose first 8 bytes have arrived but not the rest.
 * `head` is every byte of the frame received so far (length prefix included); a sink returned takes over the
 * frame, and undefined leaves it buffered as usual.
 */
export type FrameStreamOffer = (frameBytes: number, head: Buffer) => FrameSink | undefined;

export interface FrameReaderOptions {
  /** Chunks are reused after `push` returns (a shared socket read buffer): every byte kept is copied. */
  borrowsChunks?: boolean;
  /** An incomplete frame up to this size gets its whole buffer at once and is filled in place. */
  preallocateUpTo?: number;
  /**
   * Bounds the memory allocated ahead of the bytes that arrived, for peers that are not trusted (clients): an
   * incomplete frame gets its whole buffer only once at least 1/`allocationAheadFactor` of it has arrived; until
   * then its bytes are kept as they come. So a peer that announces a large frame and sends little of it costs
   * little. Default: no bound (brokers).
   */
  allocationAheadFactor?: number;
  /** Allocates the buffer a frame is copied into (default Buffer.allocUnsafe). */
  allocateFrame?: (size: number) => Buffer;
  /** Allocates the buffer a streamed frame is assembled in (default `allocateFrame`). */
  allocateStreamedFrame?: (size: number) => Buffer;
}

const STREAM_PEEK_BYTES = 8;
/** Below this many missing bytes, a frame's end is read with the next frames instead of on its own. */
const DIRECT_READ_MIN_BYTES = 16 * 1024;
const DEFAULT_PREALLOCATE_BYTES = 2 * 1024 * 1024;
/**
 * Kept bytes of an incomplete frame arriving in pieces smaller than this are gathered into shared buffers instead
 * of one buffer each, so a peer sending a byte at a time costs a byte per byte, not a buffer object per byte.
 */
const GATHER_BELOW_BYTES = 16 * 1024;
const SMALLEST_GATHER_BYTES = 256;

/**
 * Splits a byte stream into Kafka frames. Each frame handed to `onFrame` includes its 4-byte length prefix.
 * A frame lying in one owned chunk is a slice of it; a frame spanning chunks is copied once, into a buffer of
 * its size allocated when its length arrives. With `streamFramesFrom`, large frames can instead be passed on
 * as they arrive.
 */
export class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The buffer the last pending entry is a view of, with room after it, when small pieces are gathered. */
  private gather: Buffer | undefined;
  private gatherUsed = 0;
  private filling: Buffer | undefined;
  private filled = 0;
  private sawFirstFrame = false;
  private readonly maxFrameBytes: number;
  private readonly checkFirstFrame: boolean;
  private readonly borrowsChunks: boolean;
  private readonly preallocateUpTo: number;
  private readonly allocationAheadFactor: number;
  private readonly allocateFrame: (size: number) => Buffer;
  private readonly allocateStreamedFrame: (size: number) => Buffer;
  private streamMinBytes = Number.POSITIVE_INFINITY;
  private streamOffer: FrameStreamOffer | undefined;
  private offerDeclined = false;
  private sink: FrameSink | undefined;
  private sinkRemaining = 0;

  constructor(maxFrameBytes: number, checkFirstFrame: boolean, options: FrameReaderOptions = {}) {
    this.maxFrameBytes = maxFrameBytes;
    this.checkFirstFrame = checkFirstFrame;
    this.borrowsChunks = options.borrowsChunks ?? false;
    this.preallocateUpTo = options.preallocateUpTo ?? DEFAULT_PREALLOCATE_BYTES;
    this.allocationAheadFactor = options.allocationAheadFactor ?? Number.POSITIVE_INFINITY;
    this.allocateFrame = options.allocateFrame ?? Buffer.allocUnsafe;
    this.allocateStreamedFrame = options.allocateStreamedFrame ?? this.allocateFrame;
  }

  get bufferedBytes(): number {
    return this.pendingBytes + this.filled;
  }

  /** Offers each incomplete frame of at least `minBytes` (length prefix included) to `offer`. */
  streamFramesFrom(minBytes: number, offer: FrameStreamOffer): void {
    this.streamMinBytes = Math.max(minBytes, STREAM_PEEK_BYTES + 1);
    this.streamOffer = offer;
  }

  /**
   * Where the next socket read should land: the missing part of the frame being assembled, so its bytes arrive
   * in place and are not copied; undefined when any buffer will do.
   */
  readTarget(): Buffer | undefined {
    const frame = this.filling;
    if (!frame || frame.length - this.filled < DIRECT_READ_MIN_BYTES) return undefined;
    return frame.subarray(this.filled);
  }

  /**
   * Feeds a chunk; calls onFrame for each complete frame. Throws FrameError on a bad length. A chunk read into
   * `readTarget()` is taken in place.
   */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    let owned = !this.borrowsChunks;
    while (chunk.length > 0) {
      if (this.filling) {
        chunk = this.fill(chunk, onFrame);
      } else if (this.sink) {
        chunk = this.feedSink(chunk, !owned);
      } else if (this.pendingBytes > 0) {
        const merged = this.mergePending(chunk, owned, onFrame);
        if (merged === undefined) return;
        chunk = merged.rest;
        owned = merged.owned;
      } else {
        this.splitFrames(chunk, owned, onFrame);
        return;
      }
    }
  }

  /** Frames starting at the chunk's first byte: complete ones go to onFrame, the incomplete last one is kept. */
  private splitFrames(chunk: Buffer, owned: boolean, onFrame: (frame: Buffer) => void): void {
    let complete = 0;
    let size = -1;
    while (chunk.length - complete >= 4) {
      if (!this.sawFirstFrame && this.checkFirstFrame) {
        const foreign = detectForeignProtocol(chunk.subarray(complete, complete + 8));
        if (foreign) throw foreign;
      }
      size = chunk.readInt32BE(complete);
      this.validateSize(size);
      this.sawFirstFrame = true;
      if (complete + 4 + size > chunk.length) break;
      complete += 4 + size;
      size = -1;
    }
    for (let offset = 0; offset < complete; ) {
      const end = offset + 4 + chunk.readInt32BE(offset);
      const frame = owned ? chunk.subarray(offset, end) : this.copyFrame(chunk, offset, end);
      offset = end;
      this.offerDeclined = false;
      onFrame(frame);
    }
    if (complete === chunk.length) return;
    const rest = chunk.subarray(complete);
    if (size < 0) {
      if (rest.length >= 3 && !this.sawFirstFrame && this.checkFirstFrame) {
        const foreign = detectForeignProtocol(rest);
        if (foreign) throw foreign;
      }
      this.keepPending(rest, owned);
      return;
    }
    const frameBytes = size + 4;
    if (rest.length < STREAM_PEEK_BYTES && this.wouldOffer(frameBytes)) {
      this.keepPending(rest, owned);
    } else if (rest.length >= STREAM_PEEK_BYTES && this.offerStream(frameBytes, rest, !owned)) {
      return;
    } else if (this.mayAllocate(frameBytes, rest.length)) {
      this.filling = this.allocateFrame(frameBytes);
      this.filled = rest.copy(this.filling, 0);
    } else {
      this.keepPending(rest, owned);
    }
  }

  /** Whether an incomplete frame of which `received` bytes arrived gets its whole buffer now. */
  private mayAllocate(frameBytes: number, received: number): boolean {
    if (frameBytes > this.preallocateUpTo) return false;
    return (
      this.allocationAheadFactor === Number.POSITIVE_INFINITY ||
      received * this.allocationAheadFactor >= frameBytes
    );
  }

  private copyFrame(chunk: Buffer, start: number, end: number): Buffer {
    const frame = this.allocateFrame(end - start);
    chunk.copy(frame, 0, start, end);
    return frame;
  }

  private keepPending(bytes: Buffer, owned: boolean): void {
    const size = bytes.length;
    if (size >= GATHER_BELOW_BYTES) {
      this.pending.push(owned ? bytes : copyOf(bytes, 0, size));
      this.gather = undefined;
    } else {
      let gather = this.gather;
      if (!gather || gather.length - this.gatherUsed < size) {
        const capacity = Math.min(
          GATHER_BELOW_BYTES,
          Math.max(size, SMALLEST_GATHER_BYTES, 2 * (this.pendingBytes + size)),
        );
        gather = this.gather = Buffer.allocUnsafe(capacity);
        this.gatherUsed = 0;
        this.pending.push(gather);
      }
      bytes.copy(gather, this.gatherUsed);
      this.gatherUsed += size;
      this.pending[this.pending.length - 1] = gather.subarray(0, this.gatherUsed);
    }
    this.pendingBytes += size;
  }

  private clearPending(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.gather = undefined;
  }

  /**
   * Adds a chunk to the pending bytes of an incomplete frame. Returns undefined when the chunk was absorbed, or
   * the rest of the chunk still to read: after the bytes that completed an 8-byte head (split like any fresh
   * bytes), or after the frame the chunk completed.
   */
  private mergePending(
    chunk: Buffer,
    owned: boolean,
    onFrame: (frame: Buffer) => void,
  ): { rest: Buffer; owned: boolean } | undefined {
    if (this.pendingBytes < STREAM_PEEK_BYTES) {
      const taken = Math.min(STREAM_PEEK_BYTES - this.pendingBytes, chunk.length);
      const head = Buffer.concat([...this.pending, chunk.subarray(0, taken)], this.pendingBytes + taken);
      this.clearPending();
      this.splitFrames(head, true, onFrame);
      return { rest: chunk.subarray(taken), owned };
    }
    const frameBytes = this.peekLength() + 4;
    const missing = frameBytes - this.pendingBytes;
    if (chunk.length < missing) {
      if (this.mayAllocate(frameBytes, this.pendingBytes + chunk.length)) {
        // Enough of a frame held back (allocationAheadFactor) has arrived: it gets its buffer, and the chunk
        // and the rest are filled in place.
        const frame = this.allocateFrame(frameBytes);
        let at = 0;
        for (const piece of this.pending) at += piece.copy(frame, at);
        this.clearPending();
        this.filling = frame;
        this.filled = at;
        return { rest: chunk, owned };
      }
      this.keepPending(chunk, owned);
      return undefined;
    }
    const frame = Buffer.concat([...this.pending, chunk.subarray(0, missing)], frameBytes);
    this.clearPending();
    this.offerDeclined = false;
    onFrame(frame);
    return { rest: chunk.subarray(missing), owned };
  }

  /**
   * Copies the chunk's bytes into the frame being filled, unless they were read there; a streamed frame's sink
   * sees them at once. Returns what follows the frame.
   */
  private fill(chunk: Buffer, onFrame: (frame: Buffer) => void): Buffer {
    const frame = this.filling!;
    const start = this.filled;
    const taken = Math.min(frame.length - start, chunk.length);
    const inPlace = chunk.buffer === frame.buffer && chunk.byteOffset === frame.byteOffset + start;
    if (!inPlace) chunk.copy(frame, start, 0, taken);
    this.filled += taken;
    const sink = this.sink;
    if (sink) sink.write(frame.subarray(start, this.filled), false);
    if (this.filled === frame.length) {
      this.filling = undefined;
      this.filled = 0;
      this.offerDeclined = false;
      if (sink) {
        this.sink = undefined;
        sink.end(frame);
      } else {
        onFrame(frame);
      }
    }
    return chunk.subarray(taken);
  }

  private wouldOffer(frameBytes: number): boolean {
    return this.streamOffer !== undefined && !this.offerDeclined && frameBytes >= this.streamMinBytes;
  }

  /** True when a sink took the incomplete frame whose received bytes are `head`. */
  private offerStream(frameBytes: number, head: Buffer, borrowed: boolean): boolean {
    if (!this.wouldOffer(frameBytes)) return false;
    const sink = this.streamOffer!(frameBytes, head);
    if (!sink) {
      this.offerDeclined = true;
      return false;
    }
    this.sink = sink;
    if (frameBytes <= this.preallocateUpTo) {
      const frame = this.allocateStreamedFrame(frameBytes);
      this.filling = frame;
      this.filled = head.copy(frame, 0);
      sink.assembling?.(frame);
      sink.write(frame.subarray(0, this.filled), false);
      return true;
    }
    this.sinkRemaining = frameBytes;
    this.feedSink(head, borrowed);
    return true;
  }

  /** Passes the streamed frame's bytes in `chunk` to the sink; returns what follows the frame. */
  private feedSink(chunk: Buffer, borrowed: boolean): Buffer {
    const sink = this.sink!;
    const taken = Math.min(this.sinkRemaining, chunk.length);
    this.sinkRemaining -= taken;
    if (this.sinkRemaining === 0) {
      this.sink = undefined;
      this.offerDeclined = false;
    }
    sink.write(taken === chunk.length ? chunk : chunk.subarray(0, taken), borrowed);
    if (this.sinkRemaining === 0) sink.end();
    return chunk.subarray(taken);
  }

  private peekLength(): number {
    const head = this.pending[0]!.length >= 4 ? this.pending[0]! : Buffer.concat(this.pending, 4);
    const size = head.readInt32BE(0);
    this.validateSize(size);
    return size;
  }

  private validateSize(size: number): void {
    if (size < 0) throw new FrameError("NEGATIVE_LENGTH", `frame length ${size} is negative`);
    if (size > this.maxFrameBytes) {
      throw new FrameError(
        "TOO_LARGE",
        `frame length ${size} exceeds the maximum of ${this.maxFrameBytes} bytes`,
      );
    }
  }
}

function copyOf(bytes: Buffer, start: number, end: number): Buffer {
  const copy = Buffer.allocUnsafe(end - start);
  bytes.copy(copy, 0, start, end);
  return copy;
}
