import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { test } from "node:test";
import { writeCopy } from "../../../src/net/write-copies.ts";

test("bytes written through copies arrive intact though their source is overwritten at once", async () => {
  const received: Buffer[] = [];
  const server = net.createServer((socket) => socket.on("data", (chunk) => received.push(chunk)));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const client = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
  await once(client, "connect");
  const source = Buffer.alloc(300 * 1024);
  const expected: Buffer[] = [];
  for (let round = 0; round < 200; round++) {
    const length = 1 + ((round * 7919) % source.length);
    source.fill(round % 256, 0, length);
    expected.push(Buffer.from(source.subarray(0, length)));
    if (!writeCopy(client, source.subarray(0, length))) await once(client, "drain");
    source.fill(0xee);
  }
  client.end();
  await once(client, "close");
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(Buffer.concat(received), Buffer.concat(expected));
  server.close();
});
