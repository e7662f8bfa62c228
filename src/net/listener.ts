import net from "node:net";
import tls from "node:tls";
import type { Logger } from "../log/logger.ts";
import { type ChunkHandler, type ReadTarget, sharedReads, WRITE_HIGH_WATER_BYTES } from "./shared-reads.ts";

/** A client connection a listener accepted, not yet read from. */
export interface AcceptedConnection {
  readonly remoteAddress: string;
  readonly remotePort: number;
  /**
   * Starts reading: every chunk read goes to `onChunk`, landing in `target` when it names a place. Returns the
   * socket to write to and watch from now on, and whether chunks are borrowed: valid only during `onChunk`,
   * so bytes kept must be copied.
   */
  open(onChunk: ChunkHandler, target: ReadTarget): { socket: net.Socket; borrowsChunks: boolean };
  /** Refuses the connection. */
  refuse(): void;
  /** What the TLS handshake established, on a TLS listener. */
  readonly tls?: AcceptedTls;
}

export interface AcceptedTls {
  /** The client's certificate, when it sent one and it verified against the listener's CAs. */
  readonly peerCertificate: tls.PeerCertificate | undefined;
  /** The host name the client asked for (SNI), if any. */
  readonly serverName: string | undefined;
  /** Why a certificate the client sent did not verify (with client certificates requested, not required). */
  readonly certificateError: string | undefined;
}

export interface TlsListenerOptions extends ListenerOptions {
  /** Certificate, key, CAs and client certificate policy (`requestCert`, `rejectUnauthorized`). */
  readonly secureContext: tls.TlsOptions;
  /** A handshake not finished this long after connecting is abandoned. */
  readonly handshakeTimeoutMs: number;
  /**
   * A handshake failed (a plaintext client, a missing or untrusted client certificate, a timeout): the socket is
   * closed. `certificateRefused`: the client sent a certificate that did not verify.
   */
  onHandshakeError(remoteAddress: string | undefined, error: Error, certificateRefused: boolean): void;
}

export interface ListenerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Names the listener in logs and metrics, e.g. "bootstrap" or "node-3". */
  label: string;
  /** Accepted sockets beyond this are refused by the kernel queue instead of being accepted. */
  maxConnections: number;
  log: Logger;
  onConnection(connection: AcceptedConnection): void;
  /**
   * An error of the listening socket after it is bound, such as a failed accept when the process is out of file
   * descriptors (EMFILE): the listener keeps listening. Logged when absent.
   */
  onError?(error: NodeJS.ErrnoException): void;
}

/** A bound listening socket that hands each accepted client connection to its handler. */
export interface Listener {
  readonly label: string;
  readonly port: number;
  close(): void;
}

/** Listens for plain TCP clients, read through the proxy's shared read buffer. */
export function listenPlain(options: ListenerOptions): Promise<Listener> {
  // allowHalfOpen: a client that shuts down its sending side after its requests (FIN) still gets the answers; the
  // connection ends its side itself once they are written.
  const server = net.createServer(
    { noDelay: true, pauseOnConnect: true, allowHalfOpen: true, highWaterMark: WRITE_HIGH_WATER_BYTES },
    (socket) => options.onConnection(plainConnection(socket)),
  );
  server.maxConnections = options.maxConnections;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: options.port, host: options.host, backlog: 1024 }, () => {
      server.off("error", reject);
      server.on("error", (error: NodeJS.ErrnoException) => {
        if (options.onError) options.onError(error);
        else options.log.error({ err: error.message, listener: options.label }, "listener error");
      });
      const port = (server.address() as net.AddressInfo).port;
      options.log.info({ listener: options.label, address: `${options.host}:${port}` }, "listening");
      resolve({ label: options.label, port, close: () => server.close() });
    });
  });
}

/** Listens for TLS clients; each is handed on once its handshake is done (read the standard way, not shared). */
export function listenTls(options: TlsListenerOptions): Promise<Listener> {
  const server = tls.createServer(
    {
      ...options.secureContext,
      handshakeTimeout: options.handshakeTimeoutMs,
      noDelay: true,
      allowHalfOpen: true,
      highWaterMark: WRITE_HIGH_WATER_BYTES,
    } as tls.TlsOptions,
    (socket) => {
      socket.pause();
      options.onConnection(tlsConnection(socket));
    },
  );
  // Reading the address once the TCP connection arrives keeps it known after a failed handshake destroys it.
  server.on("connection", (raw: net.Socket) => void raw.remoteAddress);
  server.on("tlsClientError", (error, socket) => {
    const parent = (socket as tls.TLSSocket & { _parent?: net.Socket })._parent;
    const certificateError = socket.authorizationError;
    options.onHandshakeError(
      socket.remoteAddress ?? parent?.remoteAddress,
      certificateError ? new Error(`client certificate not trusted: ${String(certificateError)}`) : error,
      certificateError !== undefined && certificateError !== null,
    );
    socket.destroy();
  });
  server.maxConnections = options.maxConnections;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: options.port, host: options.host, backlog: 1024 }, () => {
      server.off("error", reject);
      server.on("error", (error: NodeJS.ErrnoException) => {
        if (options.onError) options.onError(error);
        else options.log.error({ err: error.message, listener: options.label }, "listener error");
      });
      const port = (server.address() as net.AddressInfo).port;
      options.log.info(
        { listener: options.label, address: `${options.host}:${port}`, tls: true },
        "listening",
      );
      resolve({ label: options.label, port, close: () => server.close() });
    });
  });
}

function tlsConnection(socket: tls.TLSSocket): AcceptedConnection {
  const certificate = socket.authorized ? socket.getPeerCertificate() : undefined;
  const sent = !socket.authorized && Object.keys(socket.getPeerCertificate() ?? {}).length > 0;
  const servername = (socket as tls.TLSSocket & { servername?: string | false }).servername;
  return {
    remoteAddress: socket.remoteAddress ?? "",
    remotePort: socket.remotePort ?? 0,
    tls: {
      peerCertificate: certificate && Object.keys(certificate).length > 0 ? certificate : undefined,
      serverName: servername || undefined,
      certificateError: sent ? String(socket.authorizationError ?? "unverified") : undefined,
    },
    open(onChunk) {
      socket.on("data", onChunk);
      socket.resume();
      return { socket, borrowsChunks: false };
    },
    refuse: () => socket.destroy(),
  };
}

function plainConnection(socket: net.Socket): AcceptedConnection {
  return {
    remoteAddress: socket.remoteAddress ?? "",
    remotePort: socket.remotePort ?? 0,
    open(onChunk, target) {
      const adopted = adoptWithSharedReads(socket, onChunk, target);
      if (adopted) return { socket: adopted, borrowsChunks: true };
      socket.on("data", onChunk);
      socket.resume();
      return { socket, borrowsChunks: false };
    },
    refuse: () => socket.destroy(),
  };
}

interface SocketInternals {
  _handle?: { useUserBuffer?: unknown } | null;
  _server?: net.Server | null;
  server?: net.Server | null;
}

/**
 * Moves an accepted TCP socket, created paused (`pauseOnConnect`), onto shared reads: a new Socket takes over its
 * handle with the `onread` option, which Node offers only to sockets it connects itself. This is the one place
 * that touches Node's socket internals, because the bench decides it: without it every read allocates a buffer
 * of its own and a large frame is copied once more, and in one paired run of the perf-tool rows the proxy spent
 * 2.6-2.9 instead of 2.0-2.4 CPU ms per MB produced, at 125 instead of 108 MB peak RSS. When the internals are
 * not what this expects, the socket is left as it is (undefined) and read the standard way, as TLS sockets are.
 */
function adoptWithSharedReads(
  socket: net.Socket,
  onChunk: ChunkHandler,
  target: ReadTarget,
): net.Socket | undefined {
  const internals = socket as unknown as SocketInternals;
  const handle = internals._handle;
  if (!handle || typeof handle.useUserBuffer !== "function") return undefined;
  const adopted = new net.Socket({
    handle: handle as never,
    readable: true,
    writable: true,
    allowHalfOpen: true,
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
