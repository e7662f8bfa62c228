import assert from "node:assert/strict";
import { ConfigError, parseConfigText } from "../../../src/config/load.ts";

/** The problems a config text is refused with; fails the test when it loads. */
export function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfigText(text, "test.yaml", env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail("expected a ConfigError");
}
