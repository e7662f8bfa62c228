import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import {
  addStoredUser,
  CredentialError,
  CredentialStore,
  formatStoredEntry,
  scramCredentialFor,
} from "../../../src/security/credentials.ts";
import { saslClientExchange } from "../../../src/security/sasl/client.ts";
import { plainServerExchange } from "../../../src/security/sasl/plain-server.ts";
import { scramServerExchange } from "../../../src/security/sasl/scram-server.ts";
import { runExchange } from "./sasl-helpers.ts";

const directory = mkdtempSync(path.join(tmpdir(), "kpp-credentials-"));
after(() => rmSync(directory, { recursive: true, force: true }));
let fileCounter = 0;
function credentialFile(text: string): string {
  const file = path.join(directory, `users-${fileCounter++}.txt`);
  writeFileSync(file, text);
  return file;
}

function storedFields(password: string, mechanism: "SCRAM-SHA-256" | "SCRAM-SHA-512", iterations = 4096) {
  const c = scramCredentialFor(password, mechanism, iterations);
  return {
    salt: c.salt.toString("base64"),
    iterations: c.iterations,
    stored_key: c.storedKey.toString("base64"),
    server_key: c.serverKey.toString("base64"),
  };
}

describe("scramCredentialFor", () => {
  test("agrees with Kafka's ScramFormatter (SCRAM-SHA-512, computed with kafka-clients 4.3.1)", () => {
    const c = scramCredentialFor("pässword", "SCRAM-SHA-512", 4096, Buffer.from("saltysalt"));
    assert.equal(
      c.storedKey.toString("base64"),
      "oJmdv8VVQ1lZhKxA0IvhUYjoPwSJxZRgLrZc38dtGbp4fdnnZWJXLHo2o5kKC1JZu8dma5/3OguxIvoFHNQ/Rw==",
    );
    assert.equal(
      c.serverKey.toString("base64"),
      "pm3M/ny6qSoUirQuhZD/Qb8aoQ2RPEP9SlxdnY12DWkIkAfW9/aRiwD+1RkBZlc2sZq+FjBWtntyxtoA8Y4yVQ==",
    );
  });

  test("uses a fresh 32-byte salt and 4096 iterations by default", () => {
    const a = scramCredentialFor("pw", "SCRAM-SHA-256");
    const b = scramCredentialFor("pw", "SCRAM-SHA-256");
    assert.equal(a.iterations, 4096);
    assert.equal(a.salt.length, 32);
    assert.notDeepEqual(a.salt, b.salt);
    assert.notDeepEqual(a.storedKey, b.storedKey);
  });
});

describe("CredentialStore.fromConfig users", () => {
  test("plaintext, { password }, stored with and without a mechanism, and per-mechanism entries", () => {
    const store = CredentialStore.fromConfig({
      users: {
        plain: "p1",
        object: { password: "p2" },
        inferred: storedFields("p3", "SCRAM-SHA-256"),
        named: { ...storedFields("p4", "SCRAM-SHA-512"), mechanism: "SCRAM-SHA-512" },
        both: {
          "SCRAM-SHA-256": storedFields("p5", "SCRAM-SHA-256"),
          "SCRAM-SHA-512": storedFields("p5", "SCRAM-SHA-512"),
        },
      },
    });
    assert.deepEqual(store.plaintextUsers, ["plain", "object"]);
    for (const [user, password] of [
      ["plain", "p1"],
      ["object", "p2"],
      ["inferred", "p3"],
      ["named", "p4"],
      ["both", "p5"],
    ]) {
      assert.ok(store.has(user));
      assert.equal(store.verifyPassword(user, password), true, user);
      assert.equal(store.verifyPassword(user, `${password}x`), false, user);
    }
    assert.equal(store.has("nobody"), false);
    assert.equal(store.verifyPassword("nobody", "p1"), false);
    assert.ok(store.scramCredential("inferred", "SCRAM-SHA-256"));
    assert.equal(store.scramCredential("inferred", "SCRAM-SHA-512"), undefined);
    assert.equal(store.scramCredential("named", "SCRAM-SHA-256"), undefined);
    assert.ok(
      store.scramCredential("both", "SCRAM-SHA-256") && store.scramCredential("both", "SCRAM-SHA-512"),
    );
    assert.equal(store.scramCredential("nobody", "SCRAM-SHA-256"), undefined);
  });

  test("derives a plaintext user's SCRAM keys once per mechanism", () => {
    const store = CredentialStore.fromConfig({ users: { alice: "secret" } });
    const first = store.scramCredential("alice", "SCRAM-SHA-256")!;
    assert.equal(store.scramCredential("alice", "SCRAM-SHA-256"), first);
    assert.equal(first.iterations, 4096);
    assert.deepEqual(scramCredentialFor("secret", "SCRAM-SHA-256", 4096, first.salt), first);
    assert.equal(store.scramCredential("alice", "SCRAM-SHA-512")!.storedKey.length, 64);
  });

  test("errors name the user and field", () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ alice: "" }, /^users\.alice: the password is empty$/],
      [{ alice: 42 }, /^users\.alice: expected a password string/],
      [{ alice: { password: "x", salt: "y" } }, /^users\.alice: 'password' cannot be combined/],
      [
        { alice: { ...storedFields("p", "SCRAM-SHA-256"), iterations: 1000 } },
        /^users\.alice\.iterations: .*4096/,
      ],
      [
        { alice: { ...storedFields("p", "SCRAM-SHA-256"), salt: "not base64!" } },
        /^users\.alice\.salt: .*base64/,
      ],
      [
        { alice: { ...storedFields("p", "SCRAM-SHA-256"), mechanism: "SCRAM-SHA-512" } },
        /^users\.alice\.stored_key: SCRAM-SHA-512 keys are 64 bytes, got 32/,
      ],
      [
        { alice: { "SCRAM-SHA-1": storedFields("p", "SCRAM-SHA-256") } },
        /^users\.alice: unknown key 'SCRAM-SHA-1'/,
      ],
      [
        { alice: { "SCRAM-SHA-256": { salt: "YQ==" } } },
        /^users\.alice\.SCRAM-SHA-256: missing field 'iterations'/,
      ],
      [{ "": "x" }, /^users\.: the username is empty$/],
    ];
    for (const [users, message] of cases) {
      assert.throws(
        () => CredentialStore.fromConfig({ users: users as never }),
        (error: Error) => error instanceof CredentialError && message.test(error.message),
        JSON.stringify(users),
      );
    }
  });
});

describe("credential file", () => {
  test("reads both formats, mixed, with comments, blank lines and CRLF", () => {
    const c512 = scramCredentialFor("bob-pw", "SCRAM-SHA-512", 4096);
    const c256 = scramCredentialFor("bob-pw", "SCRAM-SHA-256", 4096);
    const file = credentialFile(
      [
        "# users",
        "",
        "alice:alice pw with spaces: and colons ",
        "   # indented comment",
        formatStoredEntry("bob", "SCRAM-SHA-512", c512),
        formatStoredEntry("bob", "SCRAM-SHA-256", c256),
        "  carol  :carol-pw\r",
        "",
      ].join("\n"),
    );
    const store = CredentialStore.fromConfig({ file });
    assert.deepEqual(store.plaintextUsers, ["alice", "carol"]);
    assert.equal(store.verifyPassword("alice", "alice pw with spaces: and colons "), true);
    assert.equal(store.verifyPassword("alice", "alice pw with spaces: and colons"), false);
    assert.equal(store.verifyPassword("carol", "carol-pw"), true);
    assert.equal(store.verifyPassword("bob", "bob-pw"), true);
    assert.deepEqual(store.scramCredential("bob", "SCRAM-SHA-512"), c512);
    assert.deepEqual(store.scramCredential("bob", "SCRAM-SHA-256"), c256);
  });

  test("config users and file users are merged", () => {
    const file = credentialFile("bob:b\n");
    const store = CredentialStore.fromConfig({ users: { alice: "a" }, file });
    assert.ok(store.has("alice") && store.has("bob"));
  });

  test("malformed lines: the error names the file and line and never a password", () => {
    const stored = formatStoredEntry("bob", "SCRAM-SHA-512", scramCredentialFor("x", "SCRAM-SHA-512"));
    const cases: [string, number, RegExp][] = [
      ["# c\nno-colon-SuperSecret\n", 2, /expected 'username:password'/],
      ["\n\n:SuperSecret\n", 3, /expected 'username:password'/],
      ["alice:\n", 1, /user "alice" has an empty password/],
      ["bob:SCRAM-SHA-512:salt=AAAA,iterations=4096\n", 1, /missing field 'stored_key'/],
      [`${stored.replace("iterations=4096", "iterations=12ab")}\n`, 1, /iterations: must be an integer/],
      [`${stored},pepper=SuperSecret\n`, 1, /SCRAM-SHA-512 fields must be salt=/],
      [`${stored.replace("salt=", "salt=!")}\n`, 1, /salt: must be non-empty base64/],
      ["alice:SuperSecret\nalice:SuperSecret2\n", 2, /user "alice" is defined twice/],
      [`${stored}\n${stored}\n`, 2, /user "bob" is defined twice for SCRAM-SHA-512/],
      [`bob:SuperSecret\n${stored}\n`, 2, /user "bob" is defined twice/],
    ];
    for (const [text, line, message] of cases) {
      const file = credentialFile(text);
      assert.throws(
        () => CredentialStore.fromConfig({ file }),
        (error: Error) => {
          assert.ok(error instanceof CredentialError, error.message);
          assert.ok(error.message.startsWith(`${file}:${line}: `), error.message);
          assert.match(error.message, message);
          assert.doesNotMatch(error.message, /SuperSecret/);
          return true;
        },
      );
    }
  });

  test("a missing file is an error naming it", () => {
    const file = path.join(directory, "absent.txt");
    assert.throws(
      () => CredentialStore.fromConfig({ file }),
      new RegExp(`^CredentialError: ${file}: .*does not exist`),
    );
  });

  test("a user in the config and the file is an error", () => {
    const file = credentialFile("alice:x\n");
    assert.throws(
      () => CredentialStore.fromConfig({ users: { alice: "y" }, file }),
      /:1: user "alice" is defined twice/,
    );
  });
});

describe("addStoredUser", () => {
  test("creates the file with mode 0600, and the stored entry serves PLAIN and SCRAM", async () => {
    const file = path.join(directory, "new-users.txt");
    addStoredUser(file, "dave", "SCRAM-SHA-512", "dave-pw");
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const text = readFileSync(file, "utf8");
    assert.match(
      text,
      /^dave:SCRAM-SHA-512:salt=[A-Za-z0-9+/=]+,iterations=8192,stored_key=[^,]+,server_key=[^,]+\n$/,
    );
    assert.doesNotMatch(text, /dave-pw/);

    const store = CredentialStore.fromConfig({ file });
    assert.deepEqual(store.plaintextUsers, []);
    assert.equal(store.verifyPassword("dave", "dave-pw"), true);
    assert.equal(store.verifyPassword("dave", "dave-pw!"), false);
    assert.equal(store.scramCredential("dave", "SCRAM-SHA-256"), undefined);
    const scram = await runExchange(
      saslClientExchange({ mechanism: "SCRAM-SHA-512", username: "dave", password: "dave-pw" }),
      scramServerExchange("SCRAM-SHA-512", store),
    );
    assert.equal(scram.kind === "success" && scram.principal, "dave");
    const plain = await runExchange(
      saslClientExchange({ mechanism: "PLAIN", username: "dave", password: "dave-pw" }),
      plainServerExchange(store),
    );
    assert.equal(plain.kind, "success");
  });

  test("replaces the user's line for that mechanism and their plaintext line, keeping the rest", () => {
    const file = credentialFile("# team\nalice:old-plaintext\nbob:bob-pw\n\n# end\n");
    addStoredUser(file, "alice", "SCRAM-SHA-256", "new-pw", 4096);
    addStoredUser(file, "alice", "SCRAM-SHA-512", "new-pw", 4096);
    addStoredUser(file, "alice", "SCRAM-SHA-256", "newer-pw", 4096);
    const lines = readFileSync(file, "utf8").split("\n");
    assert.equal(lines[0], "# team");
    assert.match(lines[1], /^alice:SCRAM-SHA-256:/);
    assert.equal(lines[2], "bob:bob-pw");
    assert.deepEqual(lines.slice(3), ["", "# end", lines[5], ""]);
    assert.match(lines[5], /^alice:SCRAM-SHA-512:/);
    const store = CredentialStore.fromConfig({ file });
    assert.deepEqual(store.plaintextUsers, ["bob"]);
    assert.equal(store.verifyPassword("alice", "old-plaintext"), false);
    const sha256 = store.scramCredential("alice", "SCRAM-SHA-256")!;
    assert.deepEqual(scramCredentialFor("newer-pw", "SCRAM-SHA-256", 4096, sha256.salt), sha256);
    const sha512 = store.scramCredential("alice", "SCRAM-SHA-512")!;
    assert.deepEqual(scramCredentialFor("new-pw", "SCRAM-SHA-512", 4096, sha512.salt), sha512);
    assert.deepEqual(
      readdirSync(directory).filter((name) => name.endsWith(".tmp")),
      [],
      "no temporary file is left",
    );
  });

  test("refuses usernames the file cannot hold, weak iterations and a malformed existing file", () => {
    const file = path.join(directory, "refusals.txt");
    assert.throws(() => addStoredUser(file, "a:b", "SCRAM-SHA-256", "pw"), /cannot contain ':'/);
    assert.throws(() => addStoredUser(file, "#a", "SCRAM-SHA-256", "pw"), /cannot start with '#'/);
    assert.throws(() => addStoredUser(file, "a\nb", "SCRAM-SHA-256", "pw"), /line break/);
    assert.throws(() => addStoredUser(file, "a", "SCRAM-SHA-256", "pw", 100), /at least 4096/);
    assert.throws(() => addStoredUser(file, "a", "SCRAM-SHA-256", ""), /empty/);
    const broken = credentialFile("ok:pw\nbroken-line\n");
    assert.throws(() => addStoredUser(broken, "a", "SCRAM-SHA-256", "pw"), /:2: /);
    assert.equal(readFileSync(broken, "utf8"), "ok:pw\nbroken-line\n");
  });
});
