/**
 * A TCP fault proxy for tests: one loopback port per target (a broker), forwarding bytes both ways, with
 * switchable faults ("toxics") applied per direction. `upstream` is client -> target (requests), `downstream`
 * is target -> client (responses).
 *
 *   const faults = await startFaultProxy([{ host: "127.0.0.1", port: brokerPort }]);
 *   faults.links[0].port;                      // point the client (or the broker's advertised listener) here
 *   faults.latency(200, 100, "downstream");    // every response chunk 200..300 ms late, order kept
 *   faults.bandwidth(20_000);                  // at most 20 kB/s each way, all connections together
 *   faults.stall(); ...; faults.resume();      // nothing forwarded meanwhile; connections stay open
 *   faults.resetMidFrame({ forMs: 2000 });     // RST every connection halfway through its next response frame
 *   faults.clear();                            // no faults
 *   faults.stats();                            // bytes, connections, resets, delayed/throttled/stalled counts
 *   await faults.close();
 *
 * Frames are Kafka's (4-byte big-endian size, then the body): the proxy follows frame boundaries in each
 * direction so that `resetMidFrame` cuts strictly inside a frame, never between two.
 */
import net from "node:net";
import { performance } from "node:perf_hooks";

export type Direction = "upstream" | "downstream";
export type Directions = Direction | "both";

export interface FaultTarget {
  host: string;
  port: number;
}

export interface FaultLink {
  /** The loopback port the fault proxy listens on for this target. */
  port: number;
  target: FaultTarget;
}

export interface FaultStats {
  /** Connections accepted since the start, and open now. */
  accepted: number;
  open: number;
  /** Bytes forwarded, per direction. */
  bytes: Record<Direction, number>;
  /** Connections reset by `resetMidFrame`, with the frame cut (bytes of the frame delivered / frame size). */
  resets: number;
  cuts: { direction: Direction; delivered: number; frameSize: number }[];
  /** Chunks given a latency, waits for bandwidth, bytes that arrived while stalled. */
  delayedChunks: number;
  throttledWaits: number;
  stalledBytes: number;
  /** Connections to a target that failed (refused, reset by the target). */
  targetErrors: number;
}

export interface ResetOptions {
  /** The direction whose next chunk is cut (default downstream: in the middle of a response). */
  direction?: Directions;
  /** How long the fault stays on: every connection, live or new, is reset at its next chunk meanwhile (default 1000 ms). */
  forMs?: number;
  /** Delay between delivering the partial frame and the RST, so that the peer reads the partial frame (default 10 ms). */
  settleMs?: number;
}

interface DirectionFaults {
  latencyMs: number;
  jitterMs: number;
  bytesPerSecond: number;
  stalled: boolean;
  resetUntil: number;
}

const HIGH_WATER = 1 << 20;
const LOW_WATER = 256 << 10;
const DIRECTIONS: Direction[] = ["upstream", "downstream"];

function directions(which: Directions): Direction[] {
  return which === "both" ? DIRECTIONS : [which];
}

/** Tokens of a byte-rate cap shared by every connection in one direction. */
class TokenBucket {
  private tokens = 0;
  private last = performance.now();
  private rate = 0;

  setRate(bytesPerSecond: number): void {
    this.refill();
    this.rate = bytesPerSecond;
    this.tokens = Math.min(this.tokens, this.capacity());
  }

  /** Takes up to `wanted` bytes' worth of tokens; returns how many were granted. */
  take(wanted: number): number {
    this.refill();
    const granted = Math.min(wanted, Math.floor(this.tokens));
    this.tokens -= granted;
    return granted;
  }

  /** Milliseconds until `bytes` tokens are there. */
  waitMs(bytes: number): number {
    this.refill();
    const missing = Math.max(1, Math.min(bytes, this.capacity()) - this.tokens);
    return Math.max(1, Math.ceil((missing * 1000) / this.rate));
  }

  private capacity(): number {
    // 50 ms worth of bytes, at least one typical small frame.
    return Math.max(512, this.rate / 20);
  }

  private refill(): void {
    const now = performance.now();
    if (this.rate > 0) {
      this.tokens = Math.min(this.capacity(), this.tokens + ((now - this.last) * this.rate) / 1000);
    }
    this.last = now;
  }
}

/** Follows Kafka frame boundaries in one direction of bytes. */
class FrameCursor {
  private header = Buffer.alloc(4);
  private headerHave = 0;
  /** Bytes of the current frame's body still to come (0 between frames or while reading a header). */
  private bodyLeft = 0;
  private frameSize = 0;

  /**
   * How many bytes of `chunk` to deliver so that the peer holds part of a frame and not all of it; with the
   * size of that frame and how much of it the peer will have received.
   */
  cutPoint(chunk: Buffer): { cut: number; frameSize: number; delivered: number } {
    if (this.bodyLeft > 0) {
      const received = this.frameSize - this.bodyLeft;
      const cut = Math.min(chunk.length, Math.floor(this.bodyLeft / 2));
      return { cut, frameSize: this.frameSize, delivered: 4 + received + cut };
    }
    if (this.headerHave > 0 || chunk.length < 4) {
      // Inside a size prefix: deliver one more byte of it at most (never all four).
      const cut = Math.min(chunk.length, Math.max(0, 3 - this.headerHave));
      return { cut, frameSize: -1, delivered: this.headerHave + cut };
    }
    const size = chunk.readInt32BE(0);
    const cut = Math.min(chunk.length, 4 + Math.floor(Math.max(size, 0) / 2));
    return { cut, frameSize: size, delivered: cut };
  }

  /** Accounts for `chunk` having been delivered. */
  advance(chunk: Buffer): void {
    let position = 0;
    while (position < chunk.length) {
      if (this.bodyLeft > 0) {
        const step = Math.min(this.bodyLeft, chunk.length - position);
        this.bodyLeft -= step;
        position += step;
        continue;
      }
      const step = Math.min(4 - this.headerHave, chunk.length - position);
      chunk.copy(this.header, this.headerHave, position, position + step);
      this.headerHave += step;
      position += step;
      if (this.headerHave === 4) {
        this.headerHave = 0;
        this.frameSize = this.header.readInt32BE(0);
        this.bodyLeft = Math.max(0, this.frameSize);
      }
    }
  }
}

class Pipe {
  private readonly queue: Buffer[] = [];
  private readonly readyAt: number[] = [];
  private queuedBytes = 0;
  private lastReadyAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private waitingDrain = false;
  private sourceEnded = false;
  readonly frames = new FrameCursor();
  private readonly proxy: FaultProxy;
  private readonly connection: Connection;
  readonly direction: Direction;
  private readonly source: net.Socket;
  private readonly destination: net.Socket;

  constructor(
    proxy: FaultProxy,
    connection: Connection,
    direction: Direction,
    source: net.Socket,
    destination: net.Socket,
  ) {
    this.proxy = proxy;
    this.connection = connection;
    this.direction = direction;
    this.source = source;
    this.destination = destination;
  }

  push(chunk: Buffer): void {
    const faults = this.proxy.faults[this.direction];
    const now = performance.now();
    let at = now;
    if (faults.latencyMs > 0 || faults.jitterMs > 0) {
      at = now + faults.latencyMs + Math.random() * faults.jitterMs;
      this.proxy.counters.delayedChunks++;
    }
    // Never reorder: a chunk is due no earlier than the one before it.
    at = Math.max(at, this.lastReadyAt);
    this.lastReadyAt = at;
    if (faults.stalled) this.proxy.counters.stalledBytes += chunk.length;
    this.queue.push(chunk);
    this.readyAt.push(at);
    this.queuedBytes += chunk.length;
    if (this.queuedBytes > HIGH_WATER) this.source.pause();
    this.pump();
  }

  end(): void {
    this.sourceEnded = true;
    this.pump();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.readyAt.length = 0;
  }

  pump(): void {
    if (this.connection.closed || this.connection.resetting || this.waitingDrain) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    const faults = this.proxy.faults[this.direction];
    const bucket = this.proxy.buckets[this.direction];
    while (this.queue.length > 0) {
      if (faults.stalled) return; // resume() pumps again
      const now = performance.now();
      const due = this.readyAt[0]!;
      if (due > now) {
        this.timer = setTimeout(() => this.pump(), Math.ceil(due - now));
        return;
      }
      let chunk = this.queue[0]!;
      if (this.connection.resetArmed(this.direction, now)) {
        const { cut, frameSize, delivered } = this.frames.cutPoint(chunk);
        this.connection.resetAfter(chunk.subarray(0, cut), this, {
          direction: this.direction,
          frameSize,
          delivered,
        });
        return;
      }
      if (faults.bytesPerSecond > 0) {
        const granted = bucket.take(chunk.length);
        if (granted === 0) {
          this.proxy.counters.throttledWaits++;
          this.timer = setTimeout(() => this.pump(), bucket.waitMs(chunk.length));
          return;
        }
        if (granted < chunk.length) {
          this.queue[0] = chunk.subarray(granted);
          chunk = chunk.subarray(0, granted);
        } else {
          this.queue.shift();
          this.readyAt.shift();
        }
      } else {
        this.queue.shift();
        this.readyAt.shift();
      }
      this.queuedBytes -= chunk.length;
      if (!this.write(chunk)) {
        this.waitingDrain = true;
        this.destination.once("drain", () => {
          this.waitingDrain = false;
          this.pump();
        });
        return;
      }
    }
    if (this.sourceEnded && !this.destination.destroyed) this.destination.end();
  }

  /** Writes forwarded bytes, counting them and following frames; false when the destination is full. */
  write(chunk: Buffer, callback?: () => void): boolean {
    this.frames.advance(chunk);
    this.proxy.counters.bytes[this.direction] += chunk.length;
    if (this.queuedBytes <= LOW_WATER && this.source.isPaused() && !this.source.destroyed)
      this.source.resume();
    return this.destination.write(chunk, callback);
  }
}

class Connection {
  closed = false;
  resetting = false;
  readonly up: Pipe;
  readonly down: Pipe;
  private settleTimer: NodeJS.Timeout | undefined;
  private readonly proxy: FaultProxy;
  readonly client: net.Socket;
  readonly server: net.Socket;

  constructor(proxy: FaultProxy, client: net.Socket, server: net.Socket) {
    this.proxy = proxy;
    this.client = client;
    this.server = server;
    this.up = new Pipe(proxy, this, "upstream", client, server);
    this.down = new Pipe(proxy, this, "downstream", server, client);
    client.on("data", (chunk: Buffer) => this.up.push(chunk));
    server.on("data", (chunk: Buffer) => this.down.push(chunk));
    // A side that ends cleanly: the other side is ended once the bytes queued towards it are out.
    client.on("end", () => this.up.end());
    server.on("end", () => this.down.end());
    // A side that fails: the other side is reset, as a broken link would look to it.
    server.on("error", () => {
      this.proxy.counters.targetErrors++;
      if (!client.destroyed) resetSocket(client);
    });
    client.on("error", () => {
      if (!server.destroyed) resetSocket(server);
    });
    client.on("close", () => this.destroy());
    server.on("close", (hadError) => {
      // After a clean end of the target, the client is ended by the downstream pipe when drained.
      if (hadError || this.resetting || this.client.writableEnded) this.destroy();
    });
  }

  resetArmed(direction: Direction, now: number): boolean {
    return !this.resetting && this.proxy.faults[direction].resetUntil > now;
  }

  /** Delivers `partial` (the start of a frame), then resets both sides of this connection. */
  resetAfter(
    partial: Buffer,
    pipe: Pipe,
    cut: { direction: Direction; frameSize: number; delivered: number },
  ): void {
    this.resetting = true;
    this.up.stop();
    this.down.stop();
    const reset = () => {
      this.settleTimer = setTimeout(() => {
        this.proxy.counters.resets++;
        this.proxy.counters.cuts.push(cut);
        resetSocket(this.client);
        resetSocket(this.server);
      }, this.proxy.settleMs);
    };
    if (partial.length > 0) pipe.write(partial, reset);
    else reset();
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.up.stop();
    this.down.stop();
    if (this.resetting && this.settleTimer && !this.client.destroyed) {
      // A reset is on its way; let it happen (it destroys both sockets).
      this.proxy.connections.delete(this);
      return;
    }
    clearTimeout(this.settleTimer);
    this.client.destroy();
    this.server.destroy();
    this.proxy.connections.delete(this);
  }
}

function resetSocket(socket: net.Socket): void {
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

export class FaultProxy {
  readonly links: FaultLink[] = [];
  readonly connections = new Set<Connection>();
  readonly faults: Record<Direction, DirectionFaults> = {
    upstream: { latencyMs: 0, jitterMs: 0, bytesPerSecond: 0, stalled: false, resetUntil: 0 },
    downstream: { latencyMs: 0, jitterMs: 0, bytesPerSecond: 0, stalled: false, resetUntil: 0 },
  };
  readonly buckets: Record<Direction, TokenBucket> = {
    upstream: new TokenBucket(),
    downstream: new TokenBucket(),
  };
  readonly counters: Omit<FaultStats, "open"> = {
    accepted: 0,
    bytes: { upstream: 0, downstream: 0 },
    resets: 0,
    cuts: [],
    delayedChunks: 0,
    throttledWaits: 0,
    stalledBytes: 0,
    targetErrors: 0,
  };
  settleMs = 10;
  private readonly servers: net.Server[] = [];

  /** Delays every chunk by `ms` plus up to `jitterMs` (random), keeping each connection's byte order; 0 turns it off. */
  latency(ms: number, jitterMs = 0, direction: Directions = "both"): void {
    for (const d of directions(direction)) Object.assign(this.faults[d], { latencyMs: ms, jitterMs });
  }

  /** Caps the rate of each direction (all connections together) at `bytesPerSecond`; 0 lifts the cap. */
  bandwidth(bytesPerSecond: number, direction: Directions = "both"): void {
    for (const d of directions(direction)) {
      this.faults[d].bytesPerSecond = bytesPerSecond;
      this.buckets[d].setRate(bytesPerSecond);
      if (bytesPerSecond === 0) this.pumpAll();
    }
  }

  /** Stops forwarding: connections stay open and bytes queue until `resume()`. */
  stall(direction: Directions = "both"): void {
    for (const d of directions(direction)) this.faults[d].stalled = true;
  }

  resume(direction: Directions = "both"): void {
    for (const d of directions(direction)) this.faults[d].stalled = false;
    this.pumpAll();
  }

  /**
   * For `forMs`, every connection (live now or accepted meanwhile) is reset (RST, both sides) at its next chunk
   * in `direction`, after delivering the first part of the frame that chunk carries (or continues).
   */
  resetMidFrame(options: ResetOptions = {}): void {
    const until = performance.now() + (options.forMs ?? 1000);
    this.settleMs = options.settleMs ?? 10;
    for (const d of directions(options.direction ?? "downstream")) this.faults[d].resetUntil = until;
    this.pumpAll();
  }

  /** Removes every fault in `direction`. */
  clear(direction: Directions = "both"): void {
    for (const d of directions(direction)) {
      Object.assign(this.faults[d], {
        latencyMs: 0,
        jitterMs: 0,
        bytesPerSecond: 0,
        stalled: false,
        resetUntil: 0,
      });
      this.buckets[d].setRate(0);
    }
    this.pumpAll();
  }

  stats(): FaultStats {
    return {
      ...this.counters,
      bytes: { ...this.counters.bytes },
      cuts: [...this.counters.cuts],
      open: this.connections.size,
    };
  }

  async close(): Promise<void> {
    for (const connection of [...this.connections]) connection.destroy();
    await Promise.all(
      this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    );
  }

  private pumpAll(): void {
    for (const connection of this.connections) {
      connection.up.pump();
      connection.down.pump();
    }
  }

  /** Listens for one target on 127.0.0.1 (`port` 0: any free port). */
  async listen(target: FaultTarget, port = 0): Promise<FaultLink> {
    const server = net.createServer({ noDelay: true }, (client) => {
      this.counters.accepted++;
      const upstream = net.connect({ host: target.host, port: target.port, noDelay: true });
      this.connections.add(new Connection(this, client, upstream));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.servers.push(server);
    const link = { port: (server.address() as net.AddressInfo).port, target };
    this.links.push(link);
    return link;
  }
}

/** A fault proxy with one loopback port per target, in order. */
export async function startFaultProxy(targets: FaultTarget[]): Promise<FaultProxy> {
  const proxy = new FaultProxy();
  for (const target of targets) await proxy.listen(target);
  return proxy;
}
