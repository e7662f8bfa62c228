import assert from "node:assert/strict";
import { test } from "node:test";

test("runtime is Node 22 or newer", () => {
  const major = Number(process.versions.node.split(".")[0]);
  assert.ok(major >= 22, `running on Node ${process.versions.node}`);
});
