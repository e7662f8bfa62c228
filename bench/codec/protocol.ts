import { existsSync } from "node:fs";

/** Produce request / Fetch response decode + re-encode, once the generated protocol codec is present. */
export async function benchProtocol(totalBytes: number, recordSize: number, budgetMs: number): Promise<void> {
  const generated = new URL("../../src/protocol/generated/index.ts", import.meta.url);
  if (!existsSync(generated)) {
    console.log("\n(protocol codec not generated yet: Produce/Fetch figures skipped)");
    return;
  }
  void totalBytes;
  void recordSize;
  void budgetMs;
}
