import { closeSync, fstatSync, openSync, readSync } from "node:fs";

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_DIRECTORY_ENTRY = 0x02014b50;

/** Names of the entries in a jar (zip) file, read from its central directory. */
export function jarEntries(path: string): string[] {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const tailLength = Math.min(size, 22 + 0xffff);
    const tail = Buffer.allocUnsafe(tailLength);
    readSync(fd, tail, 0, tailLength, size - tailLength);
    let eocd = -1;
    for (let at = tailLength - 22; at >= 0; at--) {
      if (tail.readUInt32LE(at) === END_OF_CENTRAL_DIRECTORY) {
        eocd = at;
        break;
      }
    }
    if (eocd < 0) throw new Error(`${path} is not a zip file (no end of central directory)`);
    const directorySize = tail.readUInt32LE(eocd + 12);
    const directoryOffset = tail.readUInt32LE(eocd + 16);
    const directory = Buffer.allocUnsafe(directorySize);
    readSync(fd, directory, 0, directorySize, directoryOffset);
    const names: string[] = [];
    let at = 0;
    while (at + 46 <= directory.length && directory.readUInt32LE(at) === CENTRAL_DIRECTORY_ENTRY) {
      const nameLength = directory.readUInt16LE(at + 28);
      const extraLength = directory.readUInt16LE(at + 30);
      const commentLength = directory.readUInt16LE(at + 32);
      names.push(directory.toString("utf8", at + 46, at + 46 + nameLength));
      at += 46 + nameLength + extraLength + commentLength;
    }
    return names;
  } finally {
    closeSync(fd);
  }
}
