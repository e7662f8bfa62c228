import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { clusterMarker, start, stop } from "../../scripts/kafka/cluster.ts";
import { killWithMarkerSync } from "../../scripts/kafka/processes.ts";
import { spawnReaper } from "../../scripts/kafka/reaper.ts";

export interface DevCluster {
  bootstrap: string;
  stop(): Promise<void>;
}

/** A one-broker Kafka for `npm start`, removed again when the proxy stops, even when it is killed outright. */
export async function startDevCluster(): Promise<DevCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), "kpp-dev-kafka-"));
  spawnReaper(dir);
  const cluster = await start({ brokers: 1, dir, log: (line) => process.stderr.write(`${line}\n`) });
  let stopped = false;
  const stopCluster = async () => {
    if (stopped) return;
    stopped = true;
    await stop(cluster.dir);
  };
  process.once("exit", () => {
    if (!stopped)
      killWithMarkerSync(
        cluster.brokers.map((b) => b.pid),
        clusterMarker(cluster.dir),
      );
  });
  return { bootstrap: cluster.bootstrap, stop: stopCluster };
}
