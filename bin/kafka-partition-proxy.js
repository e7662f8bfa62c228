#!/usr/bin/env -S node --max-semi-space-size=2 --initial-old-space-size=32
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const compiled = fileURLToPath(new URL("../dist/src/cli.js", import.meta.url));
await import(existsSync(compiled) ? compiled : "../src/cli.ts");
