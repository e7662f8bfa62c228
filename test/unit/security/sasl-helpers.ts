import assert from "node:assert/strict";
import type { SaslClientExchange } from "../../../src/security/sasl/client.ts";
import type { SaslServerExchange, SaslStep } from "../../../src/security/sasl/server.ts";

/** Runs a client against a server as the runtime would; returns the server's last step. */
export async function runExchange(client: SaslClientExchange, server: SaslServerExchange): Promise<SaslStep> {
  let step = await server.step(client.initial());
  for (let rounds = 0; step.kind === "challenge"; rounds++) {
    assert.ok(rounds < 5, "the exchange does not end");
    const message = client.next(step.payload);
    assert.ok(message, "the client stopped while the server expects more");
    step = await server.step(message);
  }
  if (step.kind === "success") {
    assert.equal(client.next(step.payload), undefined);
    client.finish(step.payload);
  }
  return step;
}

export function expectFailure(step: SaslStep): Extract<SaslStep, { kind: "failure" }> {
  assert.equal(step.kind, "failure", `expected a failure, got ${step.kind}`);
  return step as Extract<SaslStep, { kind: "failure" }>;
}

export function expectChallenge(step: SaslStep): Buffer {
  assert.equal(step.kind, "challenge", `expected a challenge, got ${step.kind}`);
  return (step as Extract<SaslStep, { kind: "challenge" }>).payload;
}
