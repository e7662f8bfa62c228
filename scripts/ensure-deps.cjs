#!/usr/bin/env node
// Runs before `npm start` and `npm test` on whatever Node the machine has (even Node 20): installs the
// project's dependencies, including its pinned Node 24, when a fresh checkout has none yet.
const { existsSync } = require("node:fs");
const { join } = require("node:path");
const { spawnSync } = require("node:child_process");

const root = join(__dirname, "..");
const pinnedNode = join(root, "node_modules", "node", "bin", "node");
if (!existsSync(pinnedNode)) {
  process.stderr.write("kafka-partition-proxy: installing dependencies (first run)...\n");
  const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ["npm"];
  const result = spawnSync(npm[0], [...npm.slice(1), "install", "--no-audit", "--no-fund"], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (result.status !== 0) {
    process.stderr.write("kafka-partition-proxy: `npm install` failed; fix the error above and retry\n");
    process.exit(result.status ?? 1);
  }
}
