import { fileURLToPath } from "node:url";
import { clientPython } from "../../helpers/clients.ts";
import { type DriverProgram, type Flags, longFlags } from "../json-driver/driver.ts";

const DRIVER = fileURLToPath(new URL("./driver.py", import.meta.url));

/** confluent-kafka (librdkafka) from PyPI, driven by driver.py; the interpreter is looked up on first use. */
export function confluentKafka(): DriverProgram {
  return {
    name: "librdkafka",
    get command() {
      return clientPython();
    },
    argv(subcommand: string, bootstrap: string, timeoutSeconds: number, flags: Flags): string[] {
      const { "client-id": clientId, ...rest } = flags;
      const root = ["--bootstrap", bootstrap, "--timeout", String(timeoutSeconds)];
      if (typeof clientId === "string") root.push("--client-id", clientId);
      return [DRIVER, ...root, subcommand, ...longFlags(rest)];
    },
  };
}
