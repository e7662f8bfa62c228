import { Reader } from "../../protocol/primitives/reader.ts";

const NO_FRAME = Buffer.alloc(0);
/** The one reader the walks share (the event loop runs one walk at a time), so a walk allocates none. */
const shared = new Reader(NO_FRAME);
let inUse = false;

/**
 * A reader over `frame[offset, frame.length)`: the shared one, or a new one while the shared one is in use (a
 * visitor that walks another frame). Hand it back with `releaseFrameReader` when the walk ends, thrown or not.
 */
export function frameReader(frame: Buffer, offset: number): Reader {
  if (inUse) return new Reader(frame, offset);
  inUse = true;
  shared.buf = frame;
  shared.offset = offset;
  shared.end = frame.length;
  return shared;
}

/** Ends a walk: the shared reader lets go of its frame. */
export function releaseFrameReader(r: Reader): void {
  if (r !== shared) return;
  shared.buf = NO_FRAME;
  shared.offset = shared.end = 0;
  inUse = false;
}

export function skip(r: Reader, bytes: number): void {
  r.need(bytes);
  r.offset += bytes;
}

export function skipTaggedFields(r: Reader): void {
  for (let count = r.unsignedVarint(); count > 0; count--) {
    r.unsignedVarint();
    skip(r, r.unsignedVarint());
  }
}

/** Skips a string, nullable or not: an int16 length, or a compact (unsigned varint + 1) one when `compact`. */
export function skipString(r: Reader, compact: boolean): void {
  const length = compact ? r.unsignedVarint() - 1 : r.int16();
  if (length > 0) skip(r, length);
}

/** An array's length: an int32, or a compact (unsigned varint + 1) one when `compact`; -1 for null. */
export function arrayLength(r: Reader, compact: boolean, minElementBytes: number): number {
  return compact ? r.compactArrayLength(minElementBytes) : r.arrayLength(minElementBytes);
}
