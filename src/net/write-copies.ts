import type net from "node:net";

const COPY_BYTES = 256 * 1024;
const MAX_IDLE_COPIES = 16;
const idle: Buffer[] = [];

/**
 * Writes bytes that are only valid during this call (a shared read buffer) through a copy. Copies are recycled
 * once the socket has written them, so passing a stream of borrowed chunks on allocates nothing in steady state.
 */
export function writeCopy(socket: net.Socket, bytes: Buffer): boolean {
  if (bytes.length > COPY_BYTES) return socket.write(Buffer.from(bytes));
  const copy = idle.pop() ?? Buffer.allocUnsafeSlow(COPY_BYTES);
  bytes.copy(copy, 0);
  return socket.write(copy.subarray(0, bytes.length), () => {
    if (idle.length < MAX_IDLE_COPIES) idle.push(copy);
  });
}
