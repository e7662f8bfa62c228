import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { test } from "node:test";
import { adoptWithSharedReads } from "../../../src/net/shared-reads.ts";

test("an accepted socket moved onto shared reads receives every byte, pauses, and lets its server close", async () => {
  const received: Buffer[] = [];
  const buffers = new Set<ArrayBufferLike>();
  let adopted: net.Socket | undefined;
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    adopted = adoptWithSharedReads(socket, (chunk) => {
      buffers.add(chunk.buffer);
      received.push(Buffer.from(chunk));
    });
    adopted?.on("end", () => adopted?.end());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const client = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
  await once(client, "connect");
  while (!adopted) await new Promise((resolve) => setImmediate(resolve));
  adopted.pause();
  client.write("held");
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(received.length, 0, "a paused socket reads nothing");
  adopted.resume();
  const payload = Buffer.alloc(1 << 20);
  for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
  client.end(payload);
  await once(client, "close");
  assert.ok(adopted, "the accepted socket was adopted");
  assert.deepEqual(Buffer.concat(received), Buffer.concat([Buffer.from("held"), payload]));
  assert.equal(buffers.size, 1, "every chunk was read into the one shared buffer");
  server.close();
  await once(server, "close");
});
