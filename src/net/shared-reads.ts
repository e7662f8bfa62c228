import type net from "node:net";

const READ_CHUNK_BYTES = 256 * 1024;
/**
 * Bytes a socket's writer may hold before `write` asks the sender to pause. Node's 16 KiB default is below one
 * read, so every forwarded chunk would stop and restart the other side's reads.
 */
export const WRITE_HIGH_WATER_BYTES = 1024 * 1024;
let sharedBuffer: Buffer | undefined;

export type ChunkHandler = (chunk: Buffer) => void;
/** Where the next read should land instead of the shared buffer (a frame being assembled), if anywhere. */
export type ReadTarget = () => Buffer | undefined;

/**
 * The `onread` option of a TCP socket the proxy opens (to a broker) that reads into one buffer shared by every
 * such socket. A chunk is valid only while its handler runs: the next read on any socket overwrites it. Reads
 * are handled one at a time on the event loop, so sharing is safe, and a busy proxy allocates nothing per read.
 * With `target`, a read lands where it says when it names a place, so a large frame's bytes arrive in its own
 * buffer uncopied.
 */
export function sharedReads(onChunk: ChunkHandler, target?: ReadTarget): net.OnReadOpts {
  sharedBuffer ??= Buffer.allocUnsafeSlow(READ_CHUNK_BYTES);
  const shared = sharedBuffer;
  return {
    buffer: target ? () => target() ?? shared : shared,
    callback: (bytesRead, buffer) => {
      onChunk(buffer.subarray(0, bytesRead) as Buffer);
      return true;
    },
  };
}
