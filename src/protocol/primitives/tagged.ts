import { KafkaProtocolError, taggedFieldsNotSupported } from "../errors.ts";
import type { Reader } from "./reader.ts";
import { sizeOfUnsignedVarint, type Writer } from "./writer.ts";

/** A tagged field the codec does not know, kept as raw bytes so it survives a decode/encode round trip. */
export interface TaggedField {
  tag: number;
  data: Buffer;
}

export const EMPTY_BUFFER: Buffer = Buffer.alloc(0);

/** Reads a tagged-field section that has no known tags. */
export function readTaggedFields(r: Reader): TaggedField[] | undefined {
  let count = r.unsignedVarint();
  if (count === 0) return undefined;
  const fields: TaggedField[] = [];
  for (; count > 0; count--) {
    const tag = r.unsignedVarint();
    const size = r.unsignedVarint();
    fields.push({ tag, data: r.raw(size) });
  }
  return fields;
}

export function readUnknownTaggedField(
  r: Reader,
  fields: TaggedField[] | undefined,
  tag: number,
  size: number,
): TaggedField[] {
  const field = { tag, data: r.raw(size) };
  if (fields === undefined) return [field];
  fields.push(field);
  return fields;
}

/** Bounds the reader to a known tagged field's declared size; returns the outer end for `endTaggedField`. */
export function beginTaggedField(r: Reader, size: number): number {
  r.need(size);
  const outerEnd = r.end;
  r.end = r.offset + size;
  return outerEnd;
}

export function endTaggedField(r: Reader, outerEnd: number): void {
  if (r.offset !== r.end) {
    throw new KafkaProtocolError("INVALID_TAG", `tagged field has ${r.end - r.offset} unread bytes`);
  }
  r.end = outerEnd;
}

/** Number of unknown tagged fields, checking that their tags ascend (as Java's RawTaggedFieldWriter does). */
export function countTaggedFields(fields: TaggedField[] | undefined): number {
  if (fields === undefined) return 0;
  for (let i = 1; i < fields.length; i++) {
    if (!(fields[i].tag > fields[i - 1].tag)) {
      throw new KafkaProtocolError(
        "INVALID_TAG",
        `unknown tagged fields must have ascending tags: ${fields[i].tag} after ${fields[i - 1].tag}`,
      );
    }
  }
  return fields.length;
}

/** Writes a tagged-field section that has no known tags. */
export function writeTaggedFields(w: Writer, fields: TaggedField[] | undefined): void {
  const count = countTaggedFields(fields);
  w.unsignedVarint(count);
  for (let i = 0; i < count; i++) writeRawTaggedField(w, fields![i]);
}

/** Writes unknown tagged fields from `index` on whose tag is below `limit`; returns the next index. */
export function writeTaggedFieldsBelow(
  w: Writer,
  fields: TaggedField[] | undefined,
  index: number,
  limit: number,
): number {
  if (fields === undefined) return index;
  while (index < fields.length && fields[index].tag < limit) writeRawTaggedField(w, fields[index++]);
  return index;
}

function writeRawTaggedField(w: Writer, field: TaggedField): void {
  w.unsignedVarint(field.tag);
  w.unsignedVarint(field.data.length);
  w.raw(field.data);
}

/** In a version without tagged fields, unknown ones cannot be written. */
export function checkNoTaggedFields(fields: TaggedField[] | undefined, version: number): void {
  if (fields !== undefined && fields.length > 0) throw taggedFieldsNotSupported(version);
}

export function writeTaggedString(w: Writer, tag: number, value: string | null): void {
  w.unsignedVarint(tag);
  if (value === null) {
    w.unsignedVarint(1);
    w.unsignedVarint(0);
    return;
  }
  const length = Buffer.byteLength(value, "utf8");
  w.unsignedVarint(sizeOfUnsignedVarint(length + 1) + length);
  w.compactString(value);
}

export function writeTaggedBytes(w: Writer, tag: number, value: Uint8Array | null): void {
  w.unsignedVarint(tag);
  if (value === null) {
    w.unsignedVarint(1);
    w.unsignedVarint(0);
    return;
  }
  w.unsignedVarint(sizeOfUnsignedVarint(value.length + 1) + value.length);
  w.compactBytes(value);
}
