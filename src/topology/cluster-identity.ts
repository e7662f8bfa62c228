import { createHash } from "node:crypto";

/**
 * The virtual cluster's id when the config sets none: derived from the virtual cluster's name and the ids of
 * the upstream clusters behind it, so it is the same on every instance and across restarts, and differs
 * between proxies that front different clusters. Shaped like a Kafka cluster id (16 bytes, base64url).
 */
export function derivedClusterId(virtualClusterName: string, upstreamClusterIds: readonly string[]): string {
  const digest = createHash("sha256")
    .update(`kafka-partition-proxy\0${virtualClusterName}\0${[...upstreamClusterIds].sort().join("\0")}`)
    .digest();
  return digest.subarray(0, 16).toString("base64url");
}
