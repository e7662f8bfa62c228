/**
 * The out-of-process clients tests drive, installed by scripts/test/setup.ts. `npm test` runs the set-up
 * first (and says so in KPP_TEST_SET_UP); a test file run on its own installs here what it asks for. A client
 * that cannot be had throws, so the tests that need it fail; none of them skip.
 */
import { spawn, spawnSync } from "node:child_process";
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

/**
 * Runs `script` with the clients' Python (confluent-kafka) and resolves to the JSON object its last line of
 * output holds; `input` goes to its stdin. Rejects with its output when it exits non-zero, prints no JSON, or
 * outlives `timeoutMs`.
 */
export function runPythonJson<T>(
  script: string,
  args: readonly string[],
  timeoutMs = 120_000,
  input?: string,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(clientPython(), ["-c", script, ...args], {
      stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const line = stdout.trim().split("\n").pop() ?? "";
      if (code !== 0 || !line.startsWith("{")) {
        const why = timedOut ? `was killed after ${timeoutMs} ms` : `exited ${code}`;
        reject(new Error(`python ${why}:\n${stdout}\n${stderr.slice(-3000)}`));
        return;
      }
      resolve(JSON.parse(line) as T);
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}
