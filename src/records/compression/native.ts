import { createRequire } from "node:module";
import { UnsupportedCompressionError } from "../errors.ts";

const requireNative = createRequire(import.meta.url);
const loaded = new Map<string, unknown>();

/** Loads a native codec package on first use, so a missing binary fails one call with a typed error. */
export function loadNativeCodec<T>(packageName: string, codec: string, path: string): T {
  let module = loaded.get(packageName);
  if (module === undefined) {
    try {
      module = requireNative(packageName);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new UnsupportedCompressionError(path, `${codec} needs the ${packageName} package (${reason})`);
    }
    loaded.set(packageName, module);
  }
  return module as T;
}
