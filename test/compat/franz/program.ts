import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type DriverProgram, type Flags, longFlags } from "../json-driver/driver.ts";

const SOURCE = fileURLToPath(new URL(".", import.meta.url));
const DURATION_FLAGS = new Set(["settle"]);

/** Builds the franz-go driver once for this run. */
export async function buildFranz(): Promise<DriverProgram> {
  const binary = path.join(mkdtempSync(path.join(tmpdir(), "kpp-franz-")), "franz");
  await promisify(execFile)("go", ["build", "-o", binary, "."], { cwd: SOURCE, timeout: 300_000 });
  return {
    name: "franz",
    command: binary,
    argv(subcommand: string, bootstrap: string, timeoutSeconds: number, flags: Flags): string[] {
      const spelled = Object.fromEntries(
        Object.entries(flags).map(([name, value]) => [
          name,
          DURATION_FLAGS.has(name) && typeof value === "number" ? `${value}s` : value,
        ]),
      );
      return [subcommand, "--bootstrap", bootstrap, "--timeout", `${timeoutSeconds}s`, ...longFlags(spelled)];
    },
  };
}
