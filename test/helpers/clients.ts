/**
 * The out-of-process clients tests drive, installed by scripts/test/setup.ts. `npm test` runs the set-up
 * first (and says so in KPP_TEST_SET_UP); a test file run on its own installs here what it asks for. A client
 * that cannot be had throws, so the tests that need it fail; none of them skip.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import {
  CLIENTS_VENV,
  kcatCommand,
  kcatReady,
  type Part,
  ROOT,
  venvReady,
} from "../../scripts/test/setup.ts";

const SETUP = join(ROOT, "scripts", "test", "setup.ts");
const attempted = new Set<Part>();

function ensure(part: Part, ready: () => boolean, what: string): void {
  if (ready()) return;
  if (!process.env.KPP_TEST_SET_UP && !attempted.has(part)) {
    attempted.add(part);
    spawnSync(process.execPath, [SETUP, part], { cwd: ROOT, stdio: ["ignore", 2, 2] });
  }
  if (!ready()) {
    throw new Error(`${what} is not installed; \`node scripts/test/setup.ts ${part}\` tells what is missing`);
  }
}

/** The Python interpreter with confluent-kafka (librdkafka): `KPP_PYTHON` when set, else the project's venv. */
export function clientPython(): string {
  const chosen = process.env.KPP_PYTHON;
  if (chosen) return chosen;
  ensure("python", () => venvReady(CLIENTS_VENV), "confluent-kafka (librdkafka) for Python");
  return CLIENTS_VENV.python;
}

/** Debian's kcat (`KPP_KCAT` when set). */
export function kcat(): string {
  ensure("kcat", kcatReady, `kcat (${kcatCommand()})`);
  return kcatCommand();
}
