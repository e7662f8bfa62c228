import assert from "node:assert/strict";
import { test } from "node:test";
import {
  companionGroupOf,
  isCompanionGroup,
  parseCompanionGroup,
} from "../../../../src/features/virtualization/groups/companion-groups.ts";

test("companion group names: round trip and recognition", () => {
  const name = companionGroupOf("payments", 3);
  assert.equal(name, "payments.__kpp-vg.3");
  assert.ok(isCompanionGroup(name));
  assert.deepEqual(parseCompanionGroup(name), { group: "payments", virtualGroup: 3 });
  assert.equal(isCompanionGroup("payments"), false);
  assert.equal(parseCompanionGroup("payments"), undefined);
  assert.equal(parseCompanionGroup("payments.__kpp-vg.x"), undefined);
  assert.equal(parseCompanionGroup("payments.__kpp-vg.0"), undefined);
  assert.deepEqual(parseCompanionGroup(companionGroupOf(companionGroupOf("a", 1), 2)), {
    group: companionGroupOf("a", 1),
    virtualGroup: 2,
  });
});
