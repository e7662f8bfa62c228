import assert from "node:assert/strict";
import { test } from "node:test";
import { claimedUser } from "../../../src/security/sasl/claimed-user.ts";

test("the user a first SASL message names, per mechanism", () => {
  assert.equal(claimedUser("PLAIN", Buffer.from("\0alice\0secret")), "alice");
  assert.equal(claimedUser("PLAIN", Buffer.from("garbage")), undefined);
  assert.equal(claimedUser("SCRAM-SHA-512", Buffer.from("n,,n=bob=2Cjr,r=abc")), "bob,jr");
  assert.equal(claimedUser("SCRAM-SHA-256", Buffer.from("p=tls,,n=x,r=1")), undefined);
  const payload = Buffer.from(JSON.stringify({ sub: "svc-orders" })).toString("base64url");
  assert.equal(
    claimedUser("OAUTHBEARER", Buffer.from(`n,,\x01auth=Bearer h.${payload}.s\x01\x01`)),
    "svc-orders",
  );
  assert.equal(claimedUser("GSSAPI", Buffer.from("x")), undefined);
});
