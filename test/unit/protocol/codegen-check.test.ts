import assert from "node:assert/strict";
import { test } from "node:test";
import { differences, generate, loadSpecs } from "../../../scripts/codegen/main.ts";

// Resolves kafka-clients with Maven on the first run (cached in ~/.cache/kafka-partition-proxy/codegen).
test("the committed generated code matches the generator (npm run codegen -- --check)", {
  timeout: 300_000,
}, () => {
  const diffs = differences(generate(loadSpecs()));
  assert.deepEqual(diffs, [], "run `npm run codegen` and commit the result");
});
