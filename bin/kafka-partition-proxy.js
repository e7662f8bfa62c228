#!/usr/bin/env node
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const compiled = fileURLToPath(new URL("../dist/src/cli.js", import.meta.url));
await import(existsSync(compiled) ? compiled : "../src/cli.ts");
