import net from "node:net";

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
 * The `onread` option of a plain TCP socket that reads into one buffer shared by every such socket. A chunk is
 * valid only while its handler runs: the next read on any socket overwrites it. Reads are handled one at a time
 * on the event loop, so sharing is safe, and a busy proxy allocates nothing per read. With `target`, a read
 * lands where it says when it names a place, so a large frame's bytes arrive in its own buffer uncopied.
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

interface SocketInternals {
  _handle?: { useUserBuffer?: unknown } | null;
  _server?: net.Server | null;
  server?: net.Server | null;
}

/**
 * Moves an accepted socket, created paused (`pauseOnConnect`), onto shared reads: a new Socket takes over its
 * handle with the `onread` option, which accepted sockets cannot be given otherwise. Returns undefined, leaving
 * the socket untouched, when its handle is not a plain TCP stream.
 */
export function adoptWithSharedReads(
  socket: net.Socket,
  onChunk: ChunkHandler,
  target?: ReadTarget,
): net.Socket | undefined {
  const internals = socket as unknown as SocketInternals;
  const handle = internals._handle;
  if (!handle || typeof handle.useUserBuffer !== "function") return undefined;
  const adopted = new net.Socket({
    handle: handle as never,
    readable: true,
    writable: true,
    writableHighWaterMark: WRITE_HIGH_WATER_BYTES,
    onread: sharedReads(onChunk, target),
  } as net.SocketConstructorOpts);
  const server = internals._server;
  if (server) {
    const taken = adopted as unknown as SocketInternals;
    taken._server = server;
    taken.server = server;
    internals._server = null;
  }
  return adopted;
}
