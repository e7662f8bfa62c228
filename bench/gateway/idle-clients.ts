/**
 * Opens COUNT TCP connections to ADDRESS and keeps them open and silent; with --api-versions, each first
 * completes one ApiVersions v3 exchange. Run as its own process so the bench's descriptors are not spent.
 * Prints one JSON line {"connected","failed","errors"} once every connection is settled, then holds them until
 * stdin closes or SIGTERM.
 *
 * usage: node bench/gateway/idle-clients.ts ADDRESS COUNT [--api-versions] [--parallel 200]
 */
import net from "node:net";
import { parseArgs } from "node:util";
import { encodeRequest } from "../../src/protocol/frame.ts";

const API_VERSIONS = 18;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "api-versions": { type: "boolean", default: false },
    parallel: { type: "string", default: "200" },
  },
});
const [address, countText] = positionals;
const [host, port] = address!.split(":");
const count = Number(countText);
const exchange = values["api-versions"]!;
const parallel = Number(values.parallel);

const sockets: net.Socket[] = [];
const errors = new Map<string, number>();
let failed = 0;

function open(index: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: host!, port: Number(port) });
    let settled = false;
    const settle = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        failed++;
        const key = (error as NodeJS.ErrnoException).code ?? error.message;
        errors.set(key, (errors.get(key) ?? 0) + 1);
        socket.destroy();
      } else {
        sockets.push(socket);
      }
      resolve();
    };
    const timer = setTimeout(() => settle(new Error("timeout")), 30_000);
    socket.on("error", (error) => settle(error));
    socket.on("close", () => settle(new Error("closed by the proxy")));
    socket.once("connect", () => {
      if (!exchange) {
        settle();
        return;
      }
      let pending = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        if (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
          socket.off("data", onData);
          settle();
        }
      };
      socket.on("data", onData);
      socket.write(
        encodeRequest(
          { apiKey: API_VERSIONS, apiVersion: 3, correlationId: index + 1, clientId: "kpp-bench-idle" },
          { clientSoftwareName: "kpp-bench", clientSoftwareVersion: "1" },
        ),
      );
    });
  });
}

let next = 0;
await Promise.all(
  Array.from({ length: Math.min(parallel, count) }, async () => {
    while (next < count) await open(next++);
  }),
);
process.stdout.write(
  `${JSON.stringify({ connected: sockets.length, failed, errors: Object.fromEntries(errors) })}\n`,
);

const finish = () => {
  for (const socket of sockets) socket.destroy();
  process.exit(0);
};
process.stdin.on("end", finish);
process.stdin.on("close", finish);
process.stdin.resume();
process.once("SIGTERM", finish);
