import type { KafkaErrorSpec } from "./errors.ts";

export function emitErrorCodes(header: string, errors: readonly KafkaErrorSpec[]): string {
  const lines: string[] = [header, ""];
  lines.push("export const ErrorCode = {");
  for (const e of errors) lines.push(`  ${e.name}: ${e.code},`);
  lines.push("} as const;");
  lines.push("export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];");
  lines.push("export type ErrorName = keyof typeof ErrorCode;");
  lines.push("");
  lines.push("export interface KafkaErrorInfo {");
  lines.push("  readonly name: ErrorName;");
  lines.push("  readonly code: ErrorCode;");
  lines.push(
    "  /** The error's exception extends RetriableException: the same request may succeed later. */",
  );
  lines.push("  readonly retriable: boolean;");
  lines.push("  /** Kafka's default message; null for NONE. */");
  lines.push("  readonly message: string | null;");
  lines.push("}");
  lines.push("");
  lines.push("/** In Kafka's declaration order. */");
  lines.push("export const KAFKA_ERRORS: ReadonlyArray<KafkaErrorInfo> = [");
  for (const e of errors) {
    lines.push(
      `  { name: ${JSON.stringify(e.name)}, code: ${e.code}, retriable: ${e.retriable}, message: ${JSON.stringify(e.message)} },`,
    );
  }
  lines.push("];");
  lines.push("");
  lines.push("const BY_CODE = new Map<number, KafkaErrorInfo>(KAFKA_ERRORS.map((e) => [e.code, e]));");
  lines.push("");
  lines.push("export function kafkaError(code: number): KafkaErrorInfo | undefined {");
  lines.push("  return BY_CODE.get(code);");
  lines.push("}");
  lines.push("");
  lines.push("/** false for NONE and for codes Kafka does not define. */");
  lines.push("export function isRetriable(code: number): boolean {");
  lines.push("  return BY_CODE.get(code)?.retriable === true;");
  lines.push("}");
  return `${lines.join("\n")}\n`;
}
