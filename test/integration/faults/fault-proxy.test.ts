/**
 * The fault proxy itself (test/helpers/fault-proxy.ts), against a loopback server that answers every Kafka-style
 * frame (4-byte size, body) with a frame of the size the request asks for: each fault does what it says, so
 * that the broker-fault suite's faults are real.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type FaultProxy, startFaultProxy } from "../../helpers/fault-proxy.ts";

/** Answers each request frame (body: the wanted response body size, int32) with a body of that many bytes. */
async function frameServer(): Promise<{ port: number; errors: string[]; close(): Promise<void> }> {
  const errors: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", (error: NodeJS.ErrnoException) => errors.push(error.code ?? error.message));
    let buffered = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 8) {
        const wanted = buffered.readInt32BE(4);
        buffered = buffered.subarray(8);
        const frame = Buffer.alloc(4 + wanted, 0x61);
        frame.writeInt32BE(wanted, 0);
        socket.write(frame);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    errors,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

interface Client {
  socket: net.Socket;
  received: () => number;
  /** The sizes of the complete frames received so far, in order. */
  frames: () => number[];
  error: () => string | undefined;
  closed: Promise<void>;
  /** Sends a request for a response body of `size` bytes. */
  ask(size: number): void;
  /** Resolves once `bytes` bytes in total have arrived. */
  until(bytes: number, timeoutMs?: number): Promise<void>;
}

async function connect(port: number): Promise<Client> {
  const socket = net.connect({ host: "127.0.0.1", port });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  let received = 0;
  let error: string | undefined;
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => {
    received += chunk.length;
    chunks.push(chunk);
  });
  socket.on("error", (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return {
    socket,
    received: () => received,
    frames() {
      const all = Buffer.concat(chunks);
      const sizes: number[] = [];
      for (let at = 0; at + 4 <= all.length; ) {
        const size = all.readInt32BE(at);
        if (at + 4 + size > all.length) break;
        sizes.push(size);
        at += 4 + size;
      }
      return sizes;
    },
    error: () => error,
    closed,
    ask(size) {
      const request = Buffer.alloc(8);
      request.writeInt32BE(4, 0);
      request.writeInt32BE(size, 4);
      socket.write(request);
    },
    async until(bytes, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (received < bytes) {
        if (Date.now() > deadline) throw new Error(`received ${received}/${bytes} bytes (error ${error})`);
        if (socket.destroyed) throw new Error(`closed after ${received}/${bytes} bytes (error ${error})`);
        await sleep(5);
      }
    },
  };
}

describe("the fault proxy", () => {
  let server: Awaited<ReturnType<typeof frameServer>>;
  let faults: FaultProxy;
  let port: number;

  before(async () => {
    server = await frameServer();
    faults = await startFaultProxy([{ host: "127.0.0.1", port: server.port }]);
    port = faults.links[0]!.port;
  });

  after(async () => {
    await faults.close();
    await server.close();
  });

  it("forwards both ways and counts bytes and connections", async () => {
    const before = faults.stats();
    const client = await connect(port);
    client.ask(10_000);
    await client.until(10_004);
    const stats = faults.stats();
    assert.equal(stats.accepted - before.accepted, 1);
    assert.equal(stats.bytes.upstream - before.bytes.upstream, 8);
    assert.equal(stats.bytes.downstream - before.bytes.downstream, 10_004);
    assert.ok(stats.open >= 1);
    client.socket.destroy();
  });

  it("latency delays each direction, jitter never reorders", async () => {
    const client = await connect(port);
    faults.latency(150, 50, "downstream");
    const started = Date.now();
    const sizes = Array.from({ length: 20 }, (_, i) => 100 + i);
    for (const size of sizes) client.ask(size);
    await client.until(sizes.reduce((sum, size) => sum + 4 + size, 0));
    const elapsed = Date.now() - started;
    faults.clear();
    assert.ok(elapsed >= 150, `responses arrived after ${elapsed} ms`);
    assert.ok(elapsed < 2000, `a delay per chunk, not per chunk in turn: ${elapsed} ms`);
    assert.deepEqual(client.frames(), sizes, "in order");
    client.socket.destroy();
  });

  it("a stall queues bytes without closing; resume delivers them in order", async () => {
    const client = await connect(port);
    faults.stall();
    const before = faults.stats();
    for (const size of [50_000, 10, 20_000]) client.ask(size);
    await sleep(400);
    assert.equal(client.received(), 0, "nothing forwarded while stalled");
    assert.equal(client.socket.destroyed, false, "the connection stays open");
    faults.resume();
    await client.until(70_022);
    assert.deepEqual(client.frames(), [50_000, 10, 20_000], "in order");
    assert.ok(faults.stats().stalledBytes - before.stalledBytes >= 8);
    client.socket.destroy();
  });

  it("a bandwidth cap bounds the rate", async () => {
    const client = await connect(port);
    faults.bandwidth(40_000, "downstream");
    const started = Date.now();
    client.ask(60_000);
    await client.until(60_004, 20_000);
    const seconds = (Date.now() - started) / 1000;
    faults.clear();
    // 60 kB at 40 kB/s, the first 2 kB of burst free: at least ~1.4 s.
    assert.ok(seconds >= 1.3, `60 kB took ${seconds} s`);
    assert.ok(seconds < 4, `60 kB took ${seconds} s`);
    client.socket.destroy();
  });

  it("resetMidFrame resets live and new connections inside a frame, for its window only", async () => {
    const live = await connect(port);
    const before = faults.stats();
    faults.resetMidFrame({ forMs: 600 });
    live.ask(10_000);
    await live.closed;
    assert.equal(live.error(), "ECONNRESET", "the client sees a reset");
    assert.ok(
      live.received() > 4 && live.received() < 10_004,
      `part of the frame arrived: ${live.received()}`,
    );

    const fresh = await connect(port);
    fresh.ask(1000);
    await fresh.closed;
    assert.equal(fresh.error(), "ECONNRESET", "a new connection in the window is reset too");
    assert.ok(fresh.received() < 1004, `part of the frame arrived: ${fresh.received()}`);

    const stats = faults.stats();
    assert.equal(stats.resets - before.resets, 2);
    for (const cut of stats.cuts.slice(before.cuts.length)) {
      assert.ok(cut.delivered < cut.frameSize + 4, `cut inside the frame: ${JSON.stringify(cut)}`);
    }
    await sleep(700);
    const later = await connect(port);
    later.ask(1000);
    await later.until(1004);
    assert.equal(later.error(), undefined, "after the window, no more resets");
    later.socket.destroy();
    await sleep(50);
    assert.ok(server.errors.includes("ECONNRESET"), `the target sees a reset too: ${server.errors}`);
  });
});
