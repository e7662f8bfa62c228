import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  collapseToPhysical,
  expandToVirtual,
  groupOf,
  physicalOf,
  VirtualizationRules,
  type VirtualLayout,
  virtualOf,
} from "../../../../src/features/virtualization/mapping/rules.ts";

const layout: VirtualLayout = { topic: "t", virtualPartitions: 12, physicalPartitions: 4, groups: 3 };

describe("v -> p arithmetic", () => {
  test("v lives on p = v mod P in group g = floor(v / P), and back", () => {
    assert.deepEqual(
      [0, 3, 4, 7, 11].map((v) => [physicalOf(layout, v), groupOf(layout, v)]),
      [
        [0, 0],
        [3, 0],
        [0, 1],
        [3, 1],
        [3, 2],
      ],
    );
    for (let v = 0; v < layout.virtualPartitions; v++) {
      assert.equal(virtualOf(layout, physicalOf(layout, v), groupOf(layout, v)), v);
    }
  });

  test("expandToVirtual: every v on the given p, ascending; p outside [0, P) is dropped", () => {
    assert.deepEqual(expandToVirtual([2, 0], layout), [0, 2, 4, 6, 8, 10]);
    assert.deepEqual(expandToVirtual([4, -1], layout), []);
  });

  test("collapseToPhysical: the p behind the given v, each once, ascending; v outside [0, V) is dropped", () => {
    assert.deepEqual(collapseToPhysical([9, 1, 5, 6], layout), [1, 2]);
    assert.deepEqual(collapseToPhysical([12, -1], layout), []);
  });
});

describe("VirtualizationRules", () => {
  const rules = new VirtualizationRules(
    [
      { pattern: /^orders/, source: "orders", virtualPartitions: 12, physicalPartitions: 4 },
      { pattern: /^same$/, source: "same", virtualPartitions: 4, physicalPartitions: 4 },
    ],
    [/^orders-raw$/],
  );

  test("the first matching rule gives the layout", () => {
    assert.deepEqual(rules.layoutOf("orders-eu"), {
      topic: "orders-eu",
      virtualPartitions: 12,
      physicalPartitions: 4,
      groups: 3,
    });
  });

  test("internal topics, never-virtualize patterns, rules with V = P and unmatched topics have none", () => {
    assert.equal(rules.layoutOf("__consumer_offsets"), undefined);
    assert.equal(rules.layoutOf("orders-raw"), undefined);
    assert.equal(rules.layoutOf("same"), undefined);
    assert.equal(rules.layoutOf("payments"), undefined);
  });
});
