/**
 * KafkaJS 2.2.4 schedules its pending-request check `throttledUntil - Date.now()` ms ahead, and
 * `throttledUntil` stays -1 until a broker throttles the client: the delay is minus a timestamp. Node 24 warns
 * about the negative delay (TimeoutNegativeWarning) and runs it after 1 ms, so every connection checks its
 * empty queue every millisecond for as long as it lives. Loaded into every test process by
 * scripts/test/run.ts (`--import`): the check is scheduled only while requests wait, for when the throttle
 * ends or after KafkaJS's own 10 ms interval.
 */
import { createRequire } from "node:module";

interface RequestQueue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

const PATCHED_VERSION = "2.2.4";
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

const require = createRequire(import.meta.url);
const { version } = require("kafkajs/package.json") as { version: string };

if (version === PATCHED_VERSION) {
  const RequestQueue = require("kafkajs/src/network/requestQueue/index.js") as {
    prototype: RequestQueue;
  };
  RequestQueue.prototype.scheduleCheckPendingRequests = function (this: RequestQueue) {
    if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
    const untilUnthrottled = this.throttledUntil - Date.now();
    this.throttleCheckTimeoutId = setTimeout(
      () => {
        this.throttleCheckTimeoutId = null;
        this.checkPendingRequests();
      },
      untilUnthrottled > 0 ? untilUnthrottled : CHECK_PENDING_REQUESTS_INTERVAL_MS,
    );
  };
}
