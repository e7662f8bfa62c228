import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ApiKey, ErrorCode } from "../../../src/protocol/api.ts";
import { decodeResponse, encodeRequest } from "../../../src/protocol/frame.ts";
import type { ProduceRequest } from "../../../src/protocol/generated/messages/produce-request.ts";
import type { ProduceResponse } from "../../../src/protocol/generated/messages/produce-response.ts";
import {
  buildBatch,
  COMPRESSION_NAMES,
  RecordBatchView,
  type RecordInput,
} from "../../../src/records/index.ts";
import { consoleProducerLine, NULL_MARKER, sampleRecords } from "../../fixtures/records/sample-records.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { storedBatches } from "./stored-batches.ts";

const PRODUCE_VERSION = 11;
const RECORD_COUNT = 300;
/** Errors a freshly created topic gives until its leader is known. */
const RETRIABLE = new Set<number>([ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.NOT_LEADER_OR_FOLLOWER]);

/** A bare connection that sends one request at a time and reads its length-prefixed response. */
class RawConnection {
  private readonly socket: Socket;
  private buffered = Buffer.alloc(0);
  private correlationId = 0;

  private constructor(socket: Socket) {
    this.socket = socket;
  }

  static async open(host: string, port: number): Promise<RawConnection> {
    const socket = connect({ host, port });
    await once(socket, "connect");
    return new RawConnection(socket);
  }

  async produce(request: ProduceRequest): Promise<ProduceResponse> {
    const correlationId = ++this.correlationId;
    this.socket.write(
      encodeRequest(
        { apiKey: ApiKey.Produce, apiVersion: PRODUCE_VERSION, correlationId, clientId: "records-test" },
        request,
      ),
    );
    const frame = await this.readFrame();
    const response = decodeResponse(ApiKey.Produce, PRODUCE_VERSION, frame);
    assert.equal(response.correlationId, correlationId);
    return response.body as ProduceResponse;
  }

  private async readFrame(): Promise<Buffer> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (this.buffered.length >= 4) {
        const length = this.buffered.readInt32BE(0);
        if (this.buffered.length >= 4 + length) {
          const frame = this.buffered.subarray(4, 4 + length);
          this.buffered = this.buffered.subarray(4 + length);
          return frame;
        }
      }
      if (Date.now() > deadline) throw new Error("no response within 30 s");
      const [chunk] = (await Promise.race([once(this.socket, "data"), sleep(30_000).then(() => [null])])) as [
        Buffer | null,
      ];
      if (chunk) this.buffered = Buffer.concat([this.buffered, chunk]);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

function recordInputs(): RecordInput[] {
  return sampleRecords(RECORD_COUNT).map((record, index) => ({
    timestampDelta: index,
    key: record.key === null ? null : Buffer.from(record.key),
    value: Buffer.from(record.value),
    headers: record.headers.map(([key, value]) => ({
      key,
      value: value === null ? null : Buffer.from(value),
    })),
  }));
}

const BROKER_VERSIONS = [
  { version: "4", formatterFlag: "--formatter-property" },
  { version: "3.9", formatterFlag: "--property" },
] as const;

for (const { version, formatterFlag } of BROKER_VERSIONS)
  describe(`batches from our writer, produced to a Kafka ${version} broker, read by its console consumer`, {
    timeout: 600_000,
  }, () => {
    let kafka: KafkaTestCluster;
    let connection: RawConnection;

    before(async () => {
      kafka = await useKafkaCluster({ version });
      const [host, port] = kafka.bootstrap.split(",")[0].split(":");
      connection = await RawConnection.open(host, Number(port));
    });
    after(async () => {
      connection?.close();
      if (kafka && !kafka.shared) await kafka.stop();
    });

    for (const codec of COMPRESSION_NAMES) {
      test(`${codec}`, { timeout: 180_000 }, async () => {
        const topic = kafka.uniqueTopic(`writer-${codec}`);
        await kafka.createTopic(topic, { configs: ["compression.type=producer"] });
        const batch = buildBatch({
          compression: codec,
          baseTimestamp: BigInt(Date.now()),
          records: recordInputs(),
        });
        const request: ProduceRequest = {
          transactionalId: null,
          acks: -1,
          timeoutMs: 30_000,
          topicData: [{ name: topic, topicId: "", partitionData: [{ index: 0, records: batch }] }],
        };
        let errorCode = -1;
        for (let attempt = 0; attempt < 40; attempt++) {
          const response = await connection.produce(request);
          const partition = response.responses[0].partitionResponses[0];
          errorCode = partition.errorCode;
          if (!RETRIABLE.has(errorCode)) {
            assert.equal(errorCode, ErrorCode.NONE, `produce error ${errorCode}: ${partition.errorMessage}`);
            assert.equal(partition.baseOffset, 0n);
            break;
          }
          await sleep(250);
        }
        assert.equal(errorCode, ErrorCode.NONE);
        const [stored] = storedBatches(kafka.dir, topic);
        assert.equal(stored.crc, new RecordBatchView(batch).crc, "the broker kept our batch as written");
        assert.ok(stored.recordsData.equals(new RecordBatchView(batch).recordsData));

        const output = await kafka.toolOk(
          "kafka-console-consumer",
          [
            "--topic",
            topic,
            "--from-beginning",
            "--max-messages",
            String(RECORD_COUNT),
            "--timeout-ms",
            "60000",
            formatterFlag,
            "print.key=true",
            formatterFlag,
            "print.headers=true",
            formatterFlag,
            `null.literal=${NULL_MARKER}`,
          ],
          { timeoutMs: 120_000 },
        );
        const lines = output.split("\n").filter((line) => line.length > 0);
        assert.deepEqual(lines, sampleRecords(RECORD_COUNT).map(consoleProducerLine));
      });
    }
  });
