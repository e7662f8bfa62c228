import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, test } from "node:test";
import fc from "fast-check";
import { crc32c, crc32cImplementation, crc32cJs } from "../../../src/records/crc32c.ts";

const vectors: [string, Buffer, number][] = [
  ["123456789", Buffer.from("123456789"), 0xe3069283],
  ["empty", Buffer.alloc(0), 0],
  ["32 zero bytes", Buffer.alloc(32, 0), 0x8a9136aa],
  ["32 0xff bytes", Buffer.alloc(32, 0xff), 0x62a8ab43],
  ["ascending 0..31", Buffer.from(Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e],
  ["descending 31..0", Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c],
];

describe("crc32c", () => {
  test("uses the native implementation here", () => {
    assert.equal(crc32cImplementation, "native");
  });

  for (const [name, implementation] of [
    ["native", crc32c],
    ["js", crc32cJs],
  ] as const) {
    for (const [label, data, expected] of vectors) {
      test(`${name}: ${label}`, () => assert.equal(implementation(data), expected));
    }
    test(`${name}: continues from an initial value`, () => {
      const data = Buffer.from("The quick brown fox jumps over the lazy dog");
      assert.equal(
        implementation(data.subarray(13), implementation(data.subarray(0, 13))),
        implementation(data),
      );
    });
  }

  test("falls back to the JS implementation when the native one is unavailable", () => {
    const module = new URL("../../../src/records/crc32c.ts", import.meta.url).href;
    const script = `import { crc32c, crc32cImplementation } from ${JSON.stringify(module)};
      console.log(crc32cImplementation, crc32c(Buffer.from("123456789")).toString(16));`;
    const output = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      env: { ...process.env, KPP_CRC32C_IMPL: "js" },
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(output.trim(), "js e3069283");
  });

  test("js agrees with native on random data of every alignment", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(7), (bytes, skip) => {
        const data = Buffer.from(bytes).subarray(Math.min(skip, bytes.length));
        assert.equal(crc32cJs(data), crc32c(data));
      }),
      { numRuns: 500 },
    );
  });
});
