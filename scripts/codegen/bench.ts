/**
 * Rough codec throughput: decode + encode of a Metadata response (v12, 1000 partitions) and the
 * re-encoding of a Produce request carrying 1 MiB of records.
 *   node scripts/codegen/bench.ts
 */
import { encodeRequestChunks } from "../../src/protocol/frame.ts";
import {
  decodeMetadataResponse,
  encodeMetadataResponse,
  type MetadataResponse,
  type MetadataResponsePartition,
} from "../../src/protocol/generated/index.ts";
import { Reader } from "../../src/protocol/primitives/reader.ts";
import { Writer } from "../../src/protocol/primitives/writer.ts";

function metadataResponse(topics: number, partitionsPerTopic: number): MetadataResponse {
  return {
    throttleTimeMs: 0,
    brokers: [0, 1, 2].map((nodeId) => ({
      nodeId,
      host: `broker-${nodeId}.example.com`,
      port: 9092,
      rack: `rack-${nodeId}`,
    })),
    clusterId: "Cz2pEosbRZO8Sv4VzHTXvg",
    controllerId: 1,
    topics: Array.from({ length: topics }, (_, t) => ({
      errorCode: 0,
      name: `topic-${t}`,
      topicId: "0123456789abcdef0123456789abcdef",
      isInternal: false,
      partitions: Array.from(
        { length: partitionsPerTopic },
        (_, p): MetadataResponsePartition => ({
          errorCode: 0,
          partitionIndex: p,
          leaderId: p % 3,
          leaderEpoch: 7,
          replicaNodes: [p % 3, (p + 1) % 3, (p + 2) % 3],
          isrNodes: [p % 3, (p + 1) % 3, (p + 2) % 3],
          offlineReplicas: [],
        }),
      ),
      topicAuthorizedOperations: -2147483648,
    })),
    clusterAuthorizedOperations: -2147483648,
    errorCode: 0,
  };
}

/** Reports CPU time (not wall time), so other load on the machine distorts the figures less. */
function time(label: string, iterations: number, run: () => void, bytes: number): void {
  for (let i = 0; i < Math.min(200, iterations); i++) run();
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    const start = process.cpuUsage();
    for (let i = 0; i < iterations; i++) run();
    const used = process.cpuUsage(start);
    best = Math.min(best, (used.user + used.system) / 1e6);
  }
  const perOp = (best / iterations) * 1e6;
  const mbps = (bytes * iterations) / best / 1e6;
  console.log(
    `${label}: ${perOp.toFixed(1)} µs/op (CPU), ${(iterations / best).toFixed(0)} ops/s, ${mbps.toFixed(0)} MB/s`,
  );
}

const version = 12;
const message = metadataResponse(10, 100);
const w = new Writer();
encodeMetadataResponse(w, version, message);
const frame = Buffer.from(w.finish());
console.log(`Metadata response v${version}: 10 topics x 100 partitions, ${frame.length} bytes`);
time("decode", 1000, () => decodeMetadataResponse(new Reader(frame), version), frame.length);
const decoded = decodeMetadataResponse(new Reader(frame), version);
time(
  "encode",
  1000,
  () => {
    encodeMetadataResponse(w, version, decoded);
    w.finish();
  },
  frame.length,
);
time(
  "decode+encode",
  1000,
  () => {
    encodeMetadataResponse(w, version, decodeMetadataResponse(new Reader(frame), version));
    w.finish();
  },
  frame.length,
);

const records = Buffer.alloc(1024 * 1024, 7);
const produce = {
  transactionalId: null,
  acks: -1,
  timeoutMs: 30000,
  topicData: [
    {
      name: "events",
      topicId: "00000000000000000000000000000000",
      partitionData: [{ index: 0, records, unknownTaggedFields: undefined }],
      unknownTaggedFields: undefined,
    },
  ],
  unknownTaggedFields: undefined,
};
const chunks = encodeRequestChunks(
  { apiKey: 0, apiVersion: 11, correlationId: 1, clientId: "bench" },
  produce,
);
const referenced = chunks.some((c) => c === records);
console.log(
  `Produce v11 with 1 MiB records: ${chunks.length} chunks, records referenced without copy: ${referenced}`,
);
time(
  "produce encode (chunks)",
  3000,
  () => encodeRequestChunks({ apiKey: 0, apiVersion: 11, correlationId: 1, clientId: "bench" }, produce),
  records.length,
);
