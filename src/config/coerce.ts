import { z } from "zod";

/** Numbers and booleans may come as text (from `${ENV}`): these schemas accept both. */
const numberFromText = (value: unknown) =>
  typeof value === "string" && /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value;
const booleanFromText = (value: unknown) => (value === "true" ? true : value === "false" ? false : value);

export const num = (min = Number.NEGATIVE_INFINITY) => z.preprocess(numberFromText, z.number().min(min));
export const int = (min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(numberFromText, z.number().int().min(min).max(max));
export const bool = () => z.preprocess(booleanFromText, z.boolean());
export const port = int(1, 65535);
