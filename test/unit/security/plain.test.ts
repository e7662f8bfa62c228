import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CredentialStore, scramCredentialFor } from "../../../src/security/credentials.ts";
import { saslClientExchange } from "../../../src/security/sasl/client.ts";
import { PLAIN_INVALID_CREDENTIALS, plainServerExchange } from "../../../src/security/sasl/plain-server.ts";
import { expectFailure, runExchange } from "./sasl-helpers.ts";

const stored = scramCredentialFor("carol-secret", "SCRAM-SHA-256", 4096);
const store = CredentialStore.fromConfig({
  users: {
    alice: "alice-secret",
    carol: {
      salt: stored.salt.toString("base64"),
      iterations: stored.iterations,
      stored_key: stored.storedKey.toString("base64"),
      server_key: stored.serverKey.toString("base64"),
    },
  },
});

const plain = (authzid: string, user: string, password: string) =>
  Buffer.from(`${authzid}\u0000${user}\u0000${password}`, "utf8");

describe("PLAIN", () => {
  test("the client's message authenticates against plaintext and stored entries", async () => {
    for (const [username, password] of [
      ["alice", "alice-secret"],
      ["carol", "carol-secret"],
    ]) {
      const client = saslClientExchange({ mechanism: "PLAIN", username, password });
      assert.deepEqual(client.initial(), plain("", username, password));
      const step = await runExchange(client, plainServerExchange(store));
      assert.deepEqual(step, { kind: "success", payload: Buffer.alloc(0), principal: username });
    }
  });

  test("an authzid equal to the username is accepted", async () => {
    const step = await plainServerExchange(store).step(plain("alice", "alice", "alice-secret"));
    assert.equal(step.kind, "success");
  });

  test("unknown user and wrong password differ in the log, not for the client", async () => {
    const unknown = expectFailure(await plainServerExchange(store).step(plain("", "mallory", "x")));
    const wrong = expectFailure(await plainServerExchange(store).step(plain("", "alice", "alice-secreT")));
    const wrongStored = expectFailure(await plainServerExchange(store).step(plain("", "carol", "nope")));
    assert.match(unknown.reason, /unknown user "mallory"/);
    assert.match(wrong.reason, /wrong password for user "alice"/);
    assert.match(wrongStored.reason, /wrong password for user "carol"/);
    for (const failure of [unknown, wrong, wrongStored]) {
      assert.equal(failure.clientMessage, PLAIN_INVALID_CREDENTIALS);
      assert.doesNotMatch(failure.reason, /alice-secreT|nope/);
    }
  });

  test("refuses another authzid, empty fields and malformed messages", async () => {
    const cases: [Buffer, RegExp][] = [
      [plain("admin", "alice", "alice-secret"), /authorization id/],
      [plain("", "", "x"), /no username/],
      [plain("", "alice", ""), /no password/],
      [Buffer.from("alice\u0000alice-secret"), /2 NUL-separated tokens/],
      [Buffer.from("a\u0000b\u0000c\u0000d"), /4 NUL-separated tokens/],
      [Buffer.from([0, 0x61, 0, 0xff]), /not UTF-8/],
    ];
    for (const [message, reason] of cases) {
      assert.match(expectFailure(await plainServerExchange(store).step(message)).reason, reason);
    }
  });

  test("a second message fails", async () => {
    const server = plainServerExchange(store);
    assert.equal((await server.step(plain("", "alice", "alice-secret"))).kind, "success");
    expectFailure(await server.step(plain("", "alice", "alice-secret")));
  });
});

describe("OAUTHBEARER client", () => {
  test("sends the token in Kafka's client-first format", () => {
    const client = saslClientExchange({ mechanism: "OAUTHBEARER", token: "aaa.bbb.ccc" });
    assert.equal(client.initial().toString(), "n,,\u0001auth=Bearer aaa.bbb.ccc\u0001\u0001");
    assert.equal(client.next(Buffer.alloc(0)), undefined);
    client.finish(Buffer.alloc(0));
  });

  test("answers an error challenge with \\x01 and reports it", () => {
    const client = saslClientExchange({ mechanism: "OAUTHBEARER", token: "aaa.bbb.ccc" });
    const challenge = Buffer.from(JSON.stringify({ status: "invalid_token" }));
    assert.deepEqual(client.next(challenge), Buffer.from([1]));
    assert.throws(() => client.finish(challenge), /invalid_token/);
  });

  test("refuses a token that would break the message", () => {
    assert.throws(() => saslClientExchange({ mechanism: "OAUTHBEARER", token: "a b\u0001" }), /token/);
  });
});
