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
 * Splits a byte stream into Kafka frames. Each frame handed to `onFrame` includes its 4-byte length prefix
 * and is a slice of the received chunk whenever it lies in one chunk, so it is copied only when it spans chunks.
 */
export class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private sawFirstFrame = false;
  private readonly maxFrameBytes: number;
  private readonly checkFirstFrame: boolean;

  constructor(maxFrameBytes: number, checkFirstFrame: boolean) {
    this.maxFrameBytes = maxFrameBytes;
    this.checkFirstFrame = checkFirstFrame;
  }

  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** Feeds a chunk; calls onFrame for each complete frame. Throws FrameError on a bad length. */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    let buffer: Buffer;
    if (this.pendingBytes === 0) {
      buffer = chunk;
    } else {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < 4) return;
      if (this.sawFirstFrame && this.pendingBytes < this.peekLength() + 4) return;
      buffer = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
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
      if (end > buffer.length) break;
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
