import assert from "node:assert/strict";
import type net from "node:net";
import { test } from "node:test";
import { ProxyMetrics } from "../../../src/admin/metrics.ts";
import { framePool } from "../../../src/net/frame-pool.ts";
import { ApiKey, apiName } from "../../../src/protocol/api.ts";
import { AfterReply, ResponseQueue } from "../../../src/proxy/connection/response-queue.ts";

interface Write {
  readonly bytes: Buffer;
  readonly callback: (() => void) | undefined;
}

/** Records writes and corking; `write` answers `writable`. */
class FakeSocket {
  readonly writes: Write[] = [];
  readonly log: string[] = [];
  writable = true;

  write(bytes: Buffer, callback?: () => void): boolean {
    this.writes.push({ bytes, callback });
    this.log.push(`write ${bytes.toString()}`);
    return this.writable;
  }

  cork(): void {
    this.log.push("cork");
  }

  uncork(): void {
    this.log.push("uncork");
  }

  get text(): string[] {
    return this.writes.map((w) => w.bytes.toString());
  }
}

function queueOn(socket: FakeSocket, maxPendingBytes = 1024 * 1024) {
  const metrics = new ProxyMetrics((apiKey) => apiName(apiKey) ?? `api-${apiKey}`);
  let pauses = 0;
  const holds: boolean[] = [];
  const queue = new ResponseQueue(socket as unknown as net.Socket, metrics, maxPendingBytes, {
    pauseUpstream: () => pauses++,
    holdRequests: (held) => holds.push(held),
  });
  return { queue, metrics, pauses: () => pauses, holds };
}

const frame = (text: string) => Buffer.from(text);

class CountingAfterReply extends AfterReply {
  settled = 0;

  override settle(): void {
    this.settled++;
    super.settle();
  }
}

test("responses filled out of order are written in the order their slots were taken", () => {
  const socket = new FakeSocket();
  const { queue } = queueOn(socket);
  const first = queue.reserve(ApiKey.Metadata, 0);
  const second = queue.reserve(ApiKey.ApiVersions, 0);
  const third = queue.reserve(ApiKey.Fetch, 0);
  assert.equal(queue.waiting, 3);
  assert.equal(queue.isNext(first), true);
  assert.equal(queue.isNext(second), false);

  queue.fill(third, frame("three"), 5);
  queue.flush();
  const afterThird = [...socket.text];
  queue.fill(first, frame("one"), 3);
  queue.flush();
  const afterFirst = [...socket.text];
  const nextAfterFirst = queue.isNext(second);
  queue.fill(second, frame("two"), 3);
  queue.flush();

  assert.deepEqual(afterThird, []);
  assert.deepEqual(afterFirst, ["one"]);
  assert.equal(nextAfterFirst, true);
  assert.deepEqual(socket.text, ["one", "two", "three"]);
  assert.deepEqual(socket.log, ["cork", "write one", "uncork", "cork", "write two", "write three", "uncork"]);
  assert.equal(queue.waiting, 0);
});

test("a slot already streamed is skipped", () => {
  const socket = new FakeSocket();
  const { queue } = queueOn(socket);
  const streamed = queue.reserve(ApiKey.Fetch, 0);
  const after = queue.reserve(ApiKey.Metadata, 0);
  queue.fill(after, frame("after"), 5);
  queue.flush();
  const beforeSent = [...socket.text];
  streamed.sent = true;
  queue.flush();

  assert.deepEqual(beforeSent, []);
  assert.deepEqual(socket.text, ["after"]);
  assert.equal(queue.waiting, 0);
});

test("a full socket pauses the broker side", () => {
  const socket = new FakeSocket();
  const { queue, pauses } = queueOn(socket);
  queue.fill(queue.reserve(ApiKey.Metadata, 0), frame("a"), 1);
  queue.flush();
  const pausesWhileWritable = pauses();
  socket.writable = false;
  queue.fill(queue.reserve(ApiKey.Metadata, 0), frame("b"), 1);
  queue.flush();

  assert.equal(pausesWhileWritable, 0);
  assert.equal(pauses(), 1);
  assert.deepEqual(socket.text, ["a", "b"]);
});

test("responses waiting behind an unanswered one hold new requests past maxPendingBytes, not the broker side", () => {
  const socket = new FakeSocket();
  const { queue, pauses, holds } = queueOn(socket, 100);
  const first = queue.reserve(ApiKey.Metadata, 0);
  queue.fill(queue.reserve(ApiKey.Fetch, 0), Buffer.alloc(60), 60);
  queue.flush();
  const holdsAt60 = [...holds];
  queue.fill(queue.reserve(ApiKey.Fetch, 0), Buffer.alloc(60), 60);
  queue.flush();
  const holdsAt120 = [...holds];
  queue.fill(first, frame("first"), 5);
  queue.flush();

  assert.deepEqual(holdsAt60, []);
  assert.deepEqual(holdsAt120, [true]);
  assert.deepEqual(holds, [true, false], "once written, the bytes no longer count");
  assert.equal(pauses(), 0, "the broker side is read on: the first response may still need it");
  assert.deepEqual(
    socket.writes.map((w) => w.bytes.length),
    [5, 60, 60],
  );
});

test("a chunked response settles its buffers after its last chunk's write callback, not before", () => {
  const socket = new FakeSocket();
  const { queue } = queueOn(socket);
  const pooled = framePool.acquire(64 * 1024);
  const afterReply = new CountingAfterReply();
  afterReply.releases.push(pooled);
  const slot = queue.reserve(ApiKey.Fetch, 0);
  slot.afterWrite = afterReply;
  queue.fill(slot, [frame("head"), frame("records"), frame("tail")], 15);
  queue.flush();

  assert.deepEqual(socket.text, ["head", "records", "tail"]);
  assert.deepEqual(
    socket.writes.map((w) => w.callback === undefined),
    [true, true, false],
  );
  assert.equal(afterReply.settled, 0);
  assert.equal(framePool.lends(pooled), true);
  socket.writes[2]!.callback!();
  assert.equal(afterReply.settled, 1);
  assert.equal(framePool.lends(pooled), false);
});

test("a broker's unchanged frame returns to the pool once written; a frame marked otherwise does not", () => {
  const socket = new FakeSocket();
  const { queue } = queueOn(socket);
  const unchanged = framePool.acquire(64 * 1024);
  const kept = framePool.acquire(64 * 1024);
  const first = queue.reserve(ApiKey.Fetch, 0);
  first.releaseAfterWrite = true;
  queue.fill(first, unchanged, unchanged.length);
  queue.fill(queue.reserve(ApiKey.Fetch, 0), kept, kept.length);
  queue.flush();
  const lentBeforeCallback = framePool.lends(unchanged);
  socket.writes[0]!.callback!();

  assert.equal(lentBeforeCallback, true);
  assert.equal(framePool.lends(unchanged), false);
  assert.equal(socket.writes[1]!.callback, undefined);
  assert.equal(framePool.lends(kept), true);
  framePool.release(kept);
});

test("each written response is timed under its api", async () => {
  const socket = new FakeSocket();
  const { queue, metrics } = queueOn(socket);
  queue.fill(queue.reserve(ApiKey.Metadata, performance.now()), frame("m"), 1);
  queue.fill(queue.reserve(ApiKey.Metadata, performance.now()), frame("m"), 1);
  queue.reserve(ApiKey.ApiVersions, performance.now());
  queue.flush();

  const text = await metrics.registry.metrics();
  assert.match(text, /^kpp_request_seconds_count\{api="Metadata"\} 2$/m);
  assert.doesNotMatch(text, /kpp_request_seconds_count\{api="ApiVersions"\}/);
});
