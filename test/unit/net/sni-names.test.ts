import assert from "node:assert/strict";
import { test } from "node:test";
import { SniNames } from "../../../src/net/sni-names.ts";

const names = new SniNames("Kafka.Example.com", "broker-$(nodeId).kafka.example.com");

test("a node's host name comes from the pattern", () => {
  assert.equal(names.hostOf(7), "broker-7.kafka.example.com");
});

test("the name a client asks for picks the bootstrap or a node, case-insensitively", () => {
  assert.equal(names.targetOf("kafka.example.com"), "bootstrap");
  assert.equal(names.targetOf(undefined), "bootstrap");
  assert.equal(names.targetOf("BROKER-12.kafka.example.com"), 12);
  assert.equal(names.targetOf("broker-x.kafka.example.com"), undefined);
  assert.equal(names.targetOf("broker-1.kafka.example.com.evil"), undefined);
  assert.equal(names.targetOf("broker-1Xkafka.example.com"), undefined, "dots in the pattern are literal");
});
