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

/** Receives one frame's bytes as they arrive, in order; `end` follows the last byte. */
export interface FrameSink {
  write(bytes: Buffer): void;
  end(): void;
}

/**
 * Offered a frame of at least the reader's streaming size whose first 8 bytes have arrived but not the rest.
 * `head` is every byte of the frame received so far (length prefix included); a sink returned takes over the
 * frame, and undefined leaves it buffered as usual.
 */
export type FrameStreamOffer = (frameBytes: number, head: Buffer) => FrameSink | undefined;

const STREAM_PEEK_BYTES = 8;

/**
 * Splits a byte stream into Kafka frames. Each frame handed to `onFrame` includes its 4-byte length prefix
 * and is a slice of the received chunk whenever it lies in one chunk, so it is copied only when it spans chunks.
 * With `streamFramesFrom`, large frames can instead be passed on chunk by chunk as they arrive.
 */
export class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private sawFirstFrame = false;
  private readonly maxFrameBytes: number;
  private readonly checkFirstFrame: boolean;
  private streamMinBytes = Number.POSITIVE_INFINITY;
  private streamOffer: FrameStreamOffer | undefined;
  private offerDeclined = false;
  private sink: FrameSink | undefined;
  private sinkRemaining = 0;

  constructor(maxFrameBytes: number, checkFirstFrame: boolean) {
    this.maxFrameBytes = maxFrameBytes;
    this.checkFirstFrame = checkFirstFrame;
  }

  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** Offers each incomplete frame of at least `minBytes` (length prefix included) to `offer`. */
  streamFramesFrom(minBytes: number, offer: FrameStreamOffer): void {
    this.streamMinBytes = Math.max(minBytes, STREAM_PEEK_BYTES + 1);
    this.streamOffer = offer;
  }

  /** Feeds a chunk; calls onFrame for each complete frame. Throws FrameError on a bad length. */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    if (this.sink) {
      chunk = this.feedSink(chunk);
      if (chunk.length === 0) return;
    }
    let buffer: Buffer;
    if (this.pendingBytes === 0) {
      buffer = chunk;
    } else {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < 4) return;
      if (this.sawFirstFrame) {
        const frameBytes = this.peekLength() + 4;
        if (this.pendingBytes < frameBytes) {
          if (this.pendingBytes >= STREAM_PEEK_BYTES && this.wouldOffer(frameBytes)) {
            const head = this.takePending();
            if (!this.offerStream(frameBytes, head)) {
              this.pending.push(head);
              this.pendingBytes = head.length;
            }
          }
          return;
        }
      }
      buffer = this.takePending();
    }

    let offset = 0;
    while (buffer.length - offset >= 4) {
      if (!this.sawFirstFrame && this.checkFirstFrame) {
        const foreign = detectForeignProtocol(buffer.subarray(offset, offset + 8));
        if (foreign) throw foreign;
      }
      const size = buffer.readInt32BE(offset);
      this.validateSize(size);
      this.sawFirstFrame = true;
      const end = offset + 4 + size;
      if (end > buffer.length) {
        if (
          buffer.length - offset >= STREAM_PEEK_BYTES &&
          this.offerStream(size + 4, buffer.subarray(offset))
        )
          return;
        break;
      }
      this.offerDeclined = false;
      onFrame(buffer.subarray(offset, end));
      offset = end;
    }
    if (offset < buffer.length) {
      const rest = buffer.subarray(offset);
      if (rest.length >= 3 && !this.sawFirstFrame && this.checkFirstFrame) {
        const foreign = detectForeignProtocol(rest);
        if (foreign) throw foreign;
      }
      this.pending.push(rest);
      this.pendingBytes = rest.length;
    }
  }

  private takePending(): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return all;
  }

  private wouldOffer(frameBytes: number): boolean {
    return this.streamOffer !== undefined && !this.offerDeclined && frameBytes >= this.streamMinBytes;
  }

  /** True when a sink took the incomplete frame whose received bytes are `head`. */
  private offerStream(frameBytes: number, head: Buffer): boolean {
    if (!this.wouldOffer(frameBytes)) return false;
    const sink = this.streamOffer!(frameBytes, head);
    if (!sink) {
      this.offerDeclined = true;
      return false;
    }
    this.sink = sink;
    this.sinkRemaining = frameBytes;
    this.feedSink(head);
    return true;
  }

  /** Passes the streamed frame's bytes in `chunk` to the sink; returns what follows the frame. */
  private feedSink(chunk: Buffer): Buffer {
    const sink = this.sink!;
    const taken = Math.min(this.sinkRemaining, chunk.length);
    this.sinkRemaining -= taken;
    if (this.sinkRemaining === 0) {
      this.sink = undefined;
      this.offerDeclined = false;
    }
    sink.write(taken === chunk.length ? chunk : chunk.subarray(0, taken));
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
