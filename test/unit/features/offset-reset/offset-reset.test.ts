import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  isCooperative,
  rejoinError,
  withoutPartitions,
} from "../../../../src/features/offset-reset/classic-steering.ts";
import { resetOffsetsCall } from "../../../../src/features/offset-reset/command.ts";
import {
  countFenced,
  ownsFenced,
  ownsNoneFenced,
  withoutFenced,
} from "../../../../src/features/offset-reset/consumer-steering.ts";
import { Fence } from "../../../../src/features/offset-reset/hosted-members.ts";
import { targetOffset } from "../../../../src/features/offset-reset/offset-reset.ts";
import { parseResetRequest, ResetRequestError } from "../../../../src/features/offset-reset/reset-request.ts";
import { ErrorCode, ZERO_UUID } from "../../../../src/protocol/api.ts";
import {
  decodeConsumerProtocolAssignment,
  encodeConsumerProtocolAssignment,
} from "../../../../src/protocol/generated/index.ts";
import { Reader } from "../../../../src/protocol/primitives/reader.ts";
import { Writer } from "../../../../src/protocol/primitives/writer.ts";

describe("the reset request body", () => {
  test("takes every form of `to`, optional partitions, dry_run and id", () => {
    assert.deepEqual(parseResetRequest({ topic: "T", to: "earliest" }), {
      topic: "T",
      partitions: undefined,
      to: { kind: "earliest" },
      dryRun: false,
      id: undefined,
    });
    const full = parseResetRequest({
      topic: "T",
      partitions: [5, 0, 5],
      to: { shift: -3 },
      dry_run: true,
      id: "a-1",
    });
    assert.deepEqual(full.partitions, [0, 5]);
    assert.deepEqual(full.to, { kind: "shift", shift: -3n });
    assert.equal(full.dryRun, true);
    assert.equal(full.id, "a-1");
    assert.deepEqual(parseResetRequest({ topic: "T", to: { timestamp: 1700000000000 } }).to, {
      kind: "timestamp",
      timestamp: 1700000000000n,
    });
    assert.deepEqual(parseResetRequest({ topic: "T", to: { offset: "42" } }).to, {
      kind: "offset",
      offset: 42n,
    });
  });

  test("names the field of a bad body", () => {
    const problems: [unknown, RegExp][] = [
      [[], /JSON object/],
      [{ to: "earliest" }, /^topic:/],
      [{ topic: "T" }, /^to: missing/],
      [{ topic: "T", to: "yesterday" }, /^to: expected/],
      [{ topic: "T", to: { offset: -1 } }, /^to.offset:/],
      [{ topic: "T", to: { offset: 1, shift: 2 } }, /^to: expected/],
      [{ topic: "T", to: { timestamp: 1.5 } }, /^to.timestamp: expected an integer/],
      [{ topic: "T", to: "latest", partitions: [] }, /^partitions:/],
      [{ topic: "T", to: "latest", partitions: [0, "1"] }, /^partitions\[1\]/],
      [{ topic: "T", to: "latest", dry_run: "yes" }, /^dry_run:/],
      [{ topic: "T", to: "latest", id: "a b" }, /^id:/],
      [{ topic: "T", to: "latest", group: "g" }, /^group: unknown field/],
    ];
    for (const [body, message] of problems) {
      assert.throws(
        () => parseResetRequest(body),
        (e: Error) => e instanceof ResetRequestError && message.test(e.message),
        JSON.stringify(body),
      );
    }
  });
});

describe("the target offset", () => {
  test("is kept between the earliest and latest offsets", () => {
    assert.equal(targetOffset({ kind: "earliest" }, 50n, 10n, 100n, undefined), 10n);
    assert.equal(targetOffset({ kind: "latest" }, 50n, 10n, 100n, undefined), 100n);
    assert.equal(targetOffset({ kind: "offset", offset: 5n }, 50n, 10n, 100n, undefined), 10n);
    assert.equal(targetOffset({ kind: "offset", offset: 500n }, 50n, 10n, 100n, undefined), 100n);
    assert.equal(targetOffset({ kind: "shift", shift: -15n }, 50n, 10n, 100n, undefined), 35n);
    assert.equal(targetOffset({ kind: "shift", shift: -100n }, 50n, 10n, 100n, undefined), 10n);
    assert.equal(targetOffset({ kind: "shift", shift: 5n }, -1n, 10n, 100n, undefined), 15n);
  });

  test("by timestamp is the first record at or after it, else the latest offset", () => {
    assert.equal(targetOffset({ kind: "timestamp", timestamp: 1n }, 50n, 10n, 100n, 42n), 42n);
    assert.equal(targetOffset({ kind: "timestamp", timestamp: 1n }, 50n, 10n, 100n, -1n), 100n);
  });
});

describe("a reset's fence", () => {
  test("holds the reset partitions' commits until each member re-synced after it was told", async () => {
    const fence = new Fence({ topic: "T", topicId: "ab".repeat(16), partitions: new Set([0, 2]) });
    assert.ok(fence.holds("m1", "T", "", 0));
    assert.ok(fence.holds("m1", "", "ab".repeat(16), 2), "a commit naming the topic by id");
    assert.ok(!fence.holds("m1", "T", "", 1), "another partition");
    assert.ok(!fence.holds("m1", "U", "", 0), "another topic");
    assert.ok(!fence.mustTell("m1"), "nobody is told before the reset is committed");

    fence.steer(["m1", "m2"]);
    assert.ok(fence.mustTell("m1"));
    assert.ok(!fence.holds("m3", "T", "", 0), "a member that joined after the commit read the new offsets");
    fence.resynced("m1");
    assert.ok(fence.holds("m1", "T", "", 0), "a re-sync before being told does not count");
    fence.told("m1");
    assert.ok(!fence.mustTell("m1"));
    fence.resynced("m1");
    assert.ok(!fence.holds("m1", "T", "", 0));
    assert.deepEqual(fence.waitingFor, ["m2"]);
    let released = false;
    void fence.released.then(() => {
      released = true;
    });
    fence.left("m2");
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(released);
  });
});

describe("reset-offsets arguments", () => {
  test("make the admin call", () => {
    const call = resetOffsetsCall(
      [
        "--admin",
        "http://h:1/",
        "--group",
        "g/1",
        "--topic",
        "T",
        "--partitions",
        "0,5",
        "--shift-by=-3",
        "--dry-run",
      ],
      { KPP_ADMIN_TOKEN: "t" },
    );
    assert.equal(call.url, "http://h:1/api/groups/g%2F1/reset");
    assert.equal(call.token, "t");
    assert.deepEqual(call.body, { topic: "T", to: { shift: -3 }, partitions: [0, 5], dry_run: true });
    const at = resetOffsetsCall(
      [
        "--admin",
        "http://h:1",
        "--token",
        "x",
        "--group",
        "g",
        "--topic",
        "T",
        "--to-datetime",
        "2024-05-01T09:00:00Z",
      ],
      {},
    );
    assert.deepEqual(at.body.to, { timestamp: Date.parse("2024-05-01T09:00:00Z") });
  });

  test("need one target and the admin address", () => {
    const base = ["--admin", "http://h:1", "--token", "x", "--group", "g", "--topic", "T"];
    assert.throws(() => resetOffsetsCall(base, {}), /exactly one of/);
    assert.throws(() => resetOffsetsCall([...base, "--to-latest", "--to-earliest"], {}), /exactly one of/);
    assert.throws(() => resetOffsetsCall(base.slice(2).concat("--to-latest"), {}), /--admin/);
    assert.throws(() => resetOffsetsCall([...base, "--to-offset", "x"], {}), /--to-offset/);
    assert.throws(() => resetOffsetsCall([...base, "--to-datetime", "noon"], {}), /--to-datetime/);
  });
});

describe("classic steering", () => {
  test("eager and cooperative assignors rejoin on REBALANCE_IN_PROGRESS, others on ILLEGAL_GENERATION", () => {
    assert.equal(rejoinError("range"), ErrorCode.REBALANCE_IN_PROGRESS);
    assert.equal(rejoinError("cooperative-sticky"), ErrorCode.REBALANCE_IN_PROGRESS);
    assert.equal(rejoinError("my-assignor"), ErrorCode.ILLEGAL_GENERATION);
    assert.equal(rejoinError(null), ErrorCode.ILLEGAL_GENERATION);
    assert.ok(isCooperative("cooperative-sticky"));
    assert.ok(!isCooperative("range"));
  });

  test("a cooperative member's assignment loses only the reset partitions", () => {
    const writer = new Writer(256);
    writer.int16(3);
    encodeConsumerProtocolAssignment(writer, 3, {
      assignedPartitions: [
        { topic: "T", partitions: [0, 1, 2] },
        { topic: "U", partitions: [0] },
      ],
      userData: Buffer.from("x"),
    });
    const assignment = Buffer.from(writer.finish());
    const drop = [{ topic: "T", topicId: ZERO_UUID, partitions: new Set([1, 2]) }];
    const stripped = withoutPartitions(assignment, drop)!;
    const reader = new Reader(stripped);
    assert.equal(reader.int16(), 3);
    const decoded = decodeConsumerProtocolAssignment(reader, 3);
    assert.deepEqual(
      decoded.assignedPartitions.map((a) => [a.topic, a.partitions]),
      [
        ["T", [0]],
        ["U", [0]],
      ],
    );
    assert.deepEqual(decoded.userData, Buffer.from("x"));
    assert.equal(withoutPartitions(assignment, [{ ...drop[0]!, topic: "V" }]), undefined, "nothing to drop");
    assert.equal(withoutPartitions(Buffer.from([0, 9, 1]), drop), undefined, "not an assignment");
  });
});

describe("KIP-848 steering", () => {
  const T = "ab".repeat(16);
  const U = "cd".repeat(16);
  const fenced = { topic: "T", topicId: T, partitions: new Set([1, 2]) };
  const assignment = [
    { topicId: T, partitions: [0, 1, 2] },
    { topicId: U, partitions: [1] },
  ];

  test("a member keeping other partitions is given its assignment without the reset ones", () => {
    assert.deepEqual(countFenced(assignment, fenced), { fenced: 2, other: 2 });
    assert.deepEqual(countFenced([{ topicId: T, partitions: [1] }], fenced), { fenced: 1, other: 0 });
    assert.deepEqual(withoutFenced(assignment, fenced), [
      { topicId: T, partitions: [0] },
      { topicId: U, partitions: [1] },
    ]);
  });

  test("it revoked them when it owns none, and re-synced when it owns all of them again", () => {
    const revoked = withoutFenced(assignment, fenced);
    assert.ok(ownsNoneFenced(revoked, fenced));
    assert.ok(!ownsNoneFenced(assignment, fenced));
    assert.ok(ownsFenced(assignment, assignment, fenced));
    assert.ok(!ownsFenced(revoked, assignment, fenced));
    assert.ok(!ownsFenced([{ topicId: T, partitions: [0, 1] }], assignment, fenced), "one still missing");
  });

  test("a fence follows the member through withholding and restoring until it re-synced", () => {
    const fence = new Fence(fenced);
    fence.steer(["m1"]);
    assert.equal(fence.stateOf("m1"), "untold");
    fence.restoring("m1");
    assert.equal(fence.stateOf("m1"), "untold", "restoring only follows withholding");
    fence.withholding("m1");
    assert.equal(fence.stateOf("m1"), "withholding");
    assert.ok(fence.holds("m1", "T", "", 1), "its commit before revoking is held back");
    fence.restoring("m1");
    assert.equal(fence.stateOf("m1"), "restoring");
    fence.resynced("m1");
    assert.equal(fence.stateOf("m1"), undefined);
    assert.ok(!fence.holds("m1", "T", "", 1));
  });
});
