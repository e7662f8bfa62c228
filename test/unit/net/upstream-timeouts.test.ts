import assert from "node:assert/strict";
import net from "node:net";
import { test } from "node:test";
import { silentLogger } from "../../../src/log/logger.ts";
import { FrameReader } from "../../../src/net/frame-reader.ts";
import { UpstreamConnection } from "../../../src/net/upstream.ts";

/** A broker that answers every request in order, each after `delayOf(n)` ms (n from 1), with an empty body. */
async function slowBroker(delayOf: (n: number) => number): Promise<{ port: number; close(): void }> {
  const server = net.createServer((socket) => {
    const reader = new FrameReader(1 << 20, false);
    let received = 0;
    let answering = Promise.resolve();
    socket.on("error", () => {});
    socket.on("data", (chunk) =>
      reader.push(chunk, (frame) => {
        const n = ++received;
        const correlationId = frame.readInt32BE(8);
        answering = answering.then(
          () =>
            new Promise<void>((resolve) =>
              setTimeout(() => {
                const answer = Buffer.alloc(8);
                answer.writeInt32BE(4, 0);
                answer.writeInt32BE(correlationId, 4);
                if (!socket.destroyed) socket.write(answer);
                resolve();
              }, delayOf(n)),
            ),
        );
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

function request(): Buffer {
  const frame = Buffer.alloc(14);
  frame.writeInt32BE(10, 0);
  return frame;
}

function send(connection: UpstreamConnection, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    connection.send(
      request(),
      { onResponse: () => resolve("answered"), onFailure: (error) => resolve(`failed: ${error.message}`) },
      timeoutMs,
    );
  });
}

for (const shared of [true, false]) {
  test(`a request that times out on a ${shared ? "shared" : "client's own"} connection ${shared ? "fails alone" : "closes it"}`, async (t) => {
    const broker = await slowBroker((n) => (n === 1 ? 2500 : 0));
    t.after(() => broker.close());
    const connection = new UpstreamConnection(
      { host: "127.0.0.1", port: broker.port },
      {
        connectTimeoutMs: 2000,
        requestTimeoutMs: 5000,
        maxFrameBytes: 1 << 20,
        log: silentLogger,
        label: "test",
        sharedByClients: shared,
      },
    );
    t.after(() => connection.close());
    const slow = send(connection, 1000);
    const unrelated = send(connection, 10_000);
    assert.match(await slow, /did not answer within 1000 ms/);
    if (shared) {
      assert.equal(
        await unrelated,
        "answered",
        "the unrelated request is answered once the broker gets to it",
      );
      assert.equal(connection.isOpen, true);
      assert.equal(
        await send(connection, 5000),
        "answered",
        "the slow request's late answer was dropped in order",
      );
    } else {
      assert.match(await unrelated, /did not answer within 1000 ms/);
      assert.equal(connection.isOpen, false);
    }
  });
}
