/**
 * `kafka-partition-proxy reset-offsets`: asks a running proxy's admin API to reset a group's offsets, and prints
 * its answer.
 */
import { parseArgs } from "node:util";

export const RESET_OFFSETS_USAGE = `  kafka-partition-proxy reset-offsets --admin http://HOST:PORT --token TOKEN --group G --topic T
      [--partitions 0,5] (--to-earliest | --to-latest | --to-datetime ISO-8601 | --to-offset N | --shift-by N)
      [--dry-run] [--id ID]
                                          reset a group's committed offsets while its consumers run (the token
                                          may come from KPP_ADMIN_TOKEN; a negative shift is --shift-by=-N)
`;

const TARGET_FLAGS = ["to-earliest", "to-latest", "to-datetime", "to-offset", "shift-by"] as const;

export interface ResetOffsetsCall {
  readonly url: string;
  readonly token: string;
  readonly body: Record<string, unknown>;
}

/** The admin call the arguments describe; throws with a message naming the bad argument. */
export function resetOffsetsCall(argv: string[], env: NodeJS.ProcessEnv = process.env): ResetOffsetsCall {
  const { values } = parseArgs({
    args: argv,
    options: {
      admin: { type: "string" },
      token: { type: "string" },
      group: { type: "string" },
      topic: { type: "string" },
      partitions: { type: "string" },
      "to-earliest": { type: "boolean" },
      "to-latest": { type: "boolean" },
      "to-datetime": { type: "string" },
      "to-offset": { type: "string" },
      "shift-by": { type: "string" },
      "dry-run": { type: "boolean" },
      id: { type: "string" },
    },
    strict: true,
  });
  const token = values.token ?? env.KPP_ADMIN_TOKEN;
  for (const [name, value] of [
    ["--admin", values.admin],
    ["--token", token],
    ["--group", values.group],
    ["--topic", values.topic],
  ] as const) {
    if (!value) throw new Error(`reset-offsets needs ${name}`);
  }
  const targets = TARGET_FLAGS.filter((flag) => values[flag] !== undefined);
  if (targets.length !== 1)
    throw new Error(`reset-offsets needs exactly one of ${TARGET_FLAGS.map((f) => `--${f}`).join(", ")}`);
  let to: unknown;
  if (values["to-earliest"]) to = "earliest";
  else if (values["to-latest"]) to = "latest";
  else if (values["to-datetime"] !== undefined) {
    const timestamp = Date.parse(values["to-datetime"]);
    if (Number.isNaN(timestamp))
      throw new Error(`--to-datetime: ${values["to-datetime"]} is not an ISO-8601 time`);
    to = { timestamp };
  } else if (values["to-offset"] !== undefined) to = { offset: integer("--to-offset", values["to-offset"]) };
  else to = { shift: integer("--shift-by", values["shift-by"]!) };
  const body: Record<string, unknown> = { topic: values.topic, to };
  if (values.partitions !== undefined) {
    body.partitions = values.partitions.split(",").map((part) => integer("--partitions", part.trim()));
  }
  if (values["dry-run"]) body.dry_run = true;
  if (values.id !== undefined) body.id = values.id;
  const base = values.admin!.replace(/\/+$/, "");
  return { url: `${base}/api/groups/${encodeURIComponent(values.group!)}/reset`, token: token!, body };
}

function integer(flag: string, text: string): number {
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(Number(text)))
    throw new Error(`${flag}: ${JSON.stringify(text)} is not an integer`);
  return Number(text);
}

/** Runs the subcommand: 0 when the reset (or dry run) was answered, 1 when the proxy refused it, 2 on bad args. */
export async function resetOffsetsCommand(
  argv: string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  let call: ResetOffsetsCall;
  try {
    call = resetOffsetsCall(argv);
  } catch (error) {
    err.write(`${(error as Error).message}\n\nUsage:\n${RESET_OFFSETS_USAGE}`);
    return 2;
  }
  let response: Response;
  try {
    response = await fetch(call.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${call.token}` },
      body: JSON.stringify(call.body),
    });
  } catch (error) {
    err.write(`cannot reach the admin API at ${call.url}: ${(error as Error).message}\n`);
    return 1;
  }
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try {
      message = String((JSON.parse(text) as { error?: unknown }).error ?? text);
    } catch {}
    err.write(`reset refused (HTTP ${response.status}): ${message}\n`);
    return 1;
  }
  out.write(`${formatAnswer(JSON.parse(text) as ResetAnswerView)}\n`);
  return 0;
}

interface ResetAnswerView {
  id: string;
  group: string;
  topic: string;
  dryRun: boolean;
  repeated: boolean;
  partitions: { partition: number; old: string | null; new: string }[];
  members: { memberId: string; resynced: boolean }[];
}

export function formatAnswer(answer: ResetAnswerView): string {
  const title = answer.dryRun
    ? "dry run, nothing applied"
    : answer.repeated
      ? `already applied earlier as reset ${answer.id}, not applied again`
      : `applied as reset ${answer.id}`;
  const lines = [
    `group ${answer.group}, topic ${answer.topic}: ${title}`,
    "PARTITION  OLD-OFFSET  NEW-OFFSET",
  ];
  for (const row of answer.partitions) {
    lines.push(`${String(row.partition).padEnd(9)}  ${String(row.old ?? "-").padEnd(10)}  ${row.new}`);
  }
  for (const member of answer.members) {
    lines.push(
      `member ${member.memberId}: ${member.resynced ? "continues from the new offsets" : "not re-synced yet"}`,
    );
  }
  return lines.join("\n");
}
