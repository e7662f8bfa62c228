import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { test } from "node:test";
import { sharedReads } from "../../../src/net/shared-reads.ts";

test("a connection on shared reads receives every byte, each read landing in the one shared buffer", async () => {
  const payload = Buffer.alloc(3 * 1024 * 1024);
  for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
  const server = net.createServer((socket) => socket.end(payload));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const received: Buffer[] = [];
  const buffers = new Set<ArrayBufferLike>();
  const client = net.connect({
    port: (server.address() as net.AddressInfo).port,
    host: "127.0.0.1",
    onread: sharedReads((chunk) => {
      buffers.add(chunk.buffer);
      received.push(Buffer.from(chunk));
    }),
  } as net.NetConnectOpts);
  await once(client, "close");
  server.close();
  assert.ok(received.length > 1, `a 3 MiB answer arrives in several reads (${received.length})`);
  assert.deepEqual(Buffer.concat(received), payload);
  assert.equal(buffers.size, 1, "every chunk was read into the one shared buffer");
});

test("a read target takes the next read in place of the shared buffer", async () => {
  const server = net.createServer((socket) => socket.end(Buffer.alloc(64 * 1024, 7)));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const target = Buffer.alloc(64 * 1024);
  let inTarget = 0;
  const client = net.connect({
    port: (server.address() as net.AddressInfo).port,
    host: "127.0.0.1",
    onread: sharedReads(
      (chunk) => {
        if (chunk.buffer === target.buffer) inTarget += chunk.length;
      },
      () => target,
    ),
  } as net.NetConnectOpts);
  await once(client, "close");
  server.close();
  assert.ok(inTarget > 0, "reads landed in the target");
  assert.equal(target[0], 7);
});
