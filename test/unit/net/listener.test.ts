import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { test } from "node:test";
import { silentLogger } from "../../../src/log/logger.ts";
import { type AcceptedConnection, listenPlain } from "../../../src/net/listener.ts";

test("a plain connection reads every byte into the shared buffer, pauses, and lets its listener close", async () => {
  const received: Buffer[] = [];
  const buffers = new Set<ArrayBufferLike>();
  let opened: { socket: net.Socket; borrowsChunks: boolean } | undefined;
  const accepted: AcceptedConnection[] = [];
  const listener = await listenPlain({
    host: "127.0.0.1",
    port: 0,
    label: "test",
    maxConnections: 10,
    log: silentLogger,
    onConnection: (connection) => {
      accepted.push(connection);
      opened = connection.open(
        (chunk) => {
          buffers.add(chunk.buffer);
          received.push(Buffer.from(chunk));
        },
        () => undefined,
      );
      opened.socket.on("end", () => opened?.socket.end());
    },
  });
  const client = net.connect(listener.port, "127.0.0.1");
  await once(client, "connect");
  while (accepted.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(accepted.length, 1);
  assert.equal(accepted[0]!.remoteAddress, "127.0.0.1");
  assert.equal(opened!.borrowsChunks, true, "a TCP connection is read through the shared buffer");
  opened!.socket.pause();
  client.write("held");
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(received.length, 0, "a paused socket reads nothing");
  opened!.socket.resume();
  const payload = Buffer.alloc(2 * 1024 * 1024);
  for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
  client.end(payload);
  await once(client, "close");
  assert.deepEqual(Buffer.concat(received), Buffer.concat([Buffer.from("held"), payload]));
  assert.equal(buffers.size, 1, "every chunk was read into the one shared buffer");
  listener.close();
});
