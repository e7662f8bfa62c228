import { connect } from "node:net";

export interface MetadataSnapshot {
  brokers: { id: number; host: string; port: number }[];
  clusterId: string | null;
  controllerId: number;
}

const METADATA_API_KEY = 3;
const METADATA_VERSION = 4;
const CLIENT_ID = "kpp-harness";

/** Asks one broker for cluster metadata (Metadata v4, no topics) over a plaintext listener. */
export function probeMetadata(host: string, port: number, timeoutMs = 2000): Promise<MetadataSnapshot> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const chunks: Buffer[] = [];
    let received = 0;
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`metadata probe of ${host}:${port} timed out`)));
    socket.on("error", fail);
    socket.on("connect", () => socket.write(metadataRequest(1)));
    socket.on("data", (chunk) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received < 4) return;
      const frame = Buffer.concat(chunks);
      const size = frame.readInt32BE(0);
      if (frame.length < 4 + size) return;
      socket.destroy();
      try {
        resolve(parseMetadataResponse(frame.subarray(4, 4 + size)));
      } catch (error) {
        reject(error as Error);
      }
    });
    socket.on("end", () => fail(new Error(`${host}:${port} closed the connection`)));
  });
}

function metadataRequest(correlationId: number): Buffer {
  const clientId = Buffer.from(CLIENT_ID);
  const size = 2 + 2 + 4 + 2 + clientId.length + 4 + 1;
  const frame = Buffer.alloc(4 + size);
  let at = frame.writeInt32BE(size, 0);
  at = frame.writeInt16BE(METADATA_API_KEY, at);
  at = frame.writeInt16BE(METADATA_VERSION, at);
  at = frame.writeInt32BE(correlationId, at);
  at = frame.writeInt16BE(clientId.length, at);
  at += clientId.copy(frame, at);
  at = frame.writeInt32BE(0, at);
  frame.writeInt8(0, at);
  return frame;
}

function parseMetadataResponse(body: Buffer): MetadataSnapshot {
  let at = 4 + 4;
  const readString = (): string | null => {
    const length = body.readInt16BE(at);
    at += 2;
    if (length < 0) return null;
    const text = body.toString("utf8", at, at + length);
    at += length;
    return text;
  };
  const brokerCount = body.readInt32BE(at);
  at += 4;
  const brokers: MetadataSnapshot["brokers"] = [];
  for (let i = 0; i < brokerCount; i++) {
    const id = body.readInt32BE(at);
    at += 4;
    const host = readString() ?? "";
    const port = body.readInt32BE(at);
    at += 4;
    readString();
    brokers.push({ id, host, port });
  }
  const clusterId = readString();
  const controllerId = body.readInt32BE(at);
  return { brokers, clusterId, controllerId };
}
