/** Just enough of the JVM class file format to read constants, superclasses and method bytecode. */

export type Constant =
  | { readonly tag: "utf8"; readonly value: string }
  | { readonly tag: "integer"; readonly value: number }
  | { readonly tag: "class"; readonly name: number }
  | { readonly tag: "string"; readonly utf8: number }
  | { readonly tag: "ref"; readonly owner: number; readonly nameAndType: number }
  | { readonly tag: "nameAndType"; readonly name: number; readonly descriptor: number }
  | { readonly tag: "methodHandle"; readonly kind: number; readonly ref: number }
  | { readonly tag: "invokeDynamic"; readonly bootstrap: number; readonly nameAndType: number }
  | { readonly tag: "other" };

export interface Member {
  readonly access: number;
  readonly name: string;
  readonly descriptor: string;
  /** Bytecode of a method's Code attribute; null for fields and abstract or native methods. */
  readonly code: Buffer | null;
}

export interface BootstrapMethod {
  readonly method: number;
  readonly args: readonly number[];
}

export interface ClassFile {
  /** Internal name, e.g. "org/apache/kafka/common/protocol/Errors". */
  readonly name: string;
  /** Internal name of the superclass; null for java/lang/Object. */
  readonly superName: string | null;
  readonly constants: readonly (Constant | undefined)[];
  readonly fields: readonly Member[];
  readonly methods: readonly Member[];
  readonly bootstrapMethods: readonly BootstrapMethod[];
}

export const ACC_ENUM = 0x4000;
export const REF_INVOKE_STATIC = 6;
export const REF_NEW_INVOKE_SPECIAL = 8;

export function parseClassFile(data: Buffer): ClassFile {
  if (data.readUInt32BE(0) !== 0xcafebabe) throw new Error("not a class file");
  let p = 8;
  const u1 = () => data[p++];
  const u2 = () => {
    const v = data.readUInt16BE(p);
    p += 2;
    return v;
  };
  const u4 = () => {
    const v = data.readUInt32BE(p);
    p += 4;
    return v;
  };
  const constants: (Constant | undefined)[] = [undefined];
  const count = u2();
  for (let i = 1; i < count; i++) {
    const tag = u1();
    switch (tag) {
      case 1: {
        const length = u2();
        constants.push({ tag: "utf8", value: decodeModifiedUtf8(data.subarray(p, p + length)) });
        p += length;
        break;
      }
      case 3:
        constants.push({ tag: "integer", value: data.readInt32BE(p) });
        p += 4;
        break;
      case 4:
        constants.push({ tag: "other" });
        p += 4;
        break;
      case 5:
      case 6:
        constants.push({ tag: "other" }, undefined);
        p += 8;
        i++;
        break;
      case 7:
        constants.push({ tag: "class", name: u2() });
        break;
      case 8:
        constants.push({ tag: "string", utf8: u2() });
        break;
      case 9:
      case 10:
      case 11:
        constants.push({ tag: "ref", owner: u2(), nameAndType: u2() });
        break;
      case 12:
        constants.push({ tag: "nameAndType", name: u2(), descriptor: u2() });
        break;
      case 15:
        constants.push({ tag: "methodHandle", kind: u1(), ref: u2() });
        break;
      case 16:
      case 19:
      case 20:
        constants.push({ tag: "other" });
        p += 2;
        break;
      case 17:
        constants.push({ tag: "other" });
        p += 4;
        break;
      case 18:
        constants.push({ tag: "invokeDynamic", bootstrap: u2(), nameAndType: u2() });
        break;
      default:
        throw new Error(`unknown constant pool tag ${tag} at entry ${i}`);
    }
  }
  const utf8 = (index: number): string => {
    const c = constants[index];
    if (c?.tag !== "utf8") throw new Error(`constant ${index} is not a Utf8 entry`);
    return c.value;
  };
  const className = (index: number): string => {
    const c = constants[index];
    if (c?.tag !== "class") throw new Error(`constant ${index} is not a Class entry`);
    return utf8(c.name);
  };
  u2(); // access flags
  const name = className(u2());
  const superIndex = u2();
  const superName = superIndex === 0 ? null : className(superIndex);
  const interfaces = u2();
  p += 2 * interfaces;
  const bootstrapMethods: BootstrapMethod[] = [];
  const readAttributes = (onAttribute: (name: string, start: number, length: number) => void) => {
    const n = u2();
    for (let i = 0; i < n; i++) {
      const attributeName = utf8(u2());
      const length = u4();
      onAttribute(attributeName, p, length);
      p += length;
    }
  };
  const readMembers = (): Member[] => {
    const members: Member[] = [];
    const n = u2();
    for (let i = 0; i < n; i++) {
      const access = u2();
      const memberName = utf8(u2());
      const descriptor = utf8(u2());
      let code: Buffer | null = null;
      readAttributes((attributeName, start) => {
        if (attributeName !== "Code") return;
        const codeLength = data.readUInt32BE(start + 4);
        code = data.subarray(start + 8, start + 8 + codeLength);
      });
      members.push({ access, name: memberName, descriptor, code });
    }
    return members;
  };
  const fields = readMembers();
  const methods = readMembers();
  readAttributes((attributeName, start) => {
    if (attributeName !== "BootstrapMethods") return;
    let q = start;
    const n = data.readUInt16BE(q);
    q += 2;
    for (let i = 0; i < n; i++) {
      const method = data.readUInt16BE(q);
      const argCount = data.readUInt16BE(q + 2);
      q += 4;
      const args: number[] = [];
      for (let j = 0; j < argCount; j++, q += 2) args.push(data.readUInt16BE(q));
      bootstrapMethods.push({ method, args });
    }
  });
  return { name, superName, constants, fields, methods, bootstrapMethods };
}

/** The JVM's modified UTF-8: NUL as C0 80, supplementary characters as two 3-byte surrogates. */
function decodeModifiedUtf8(bytes: Buffer): string {
  let out = "";
  for (let i = 0; i < bytes.length; ) {
    const a = bytes[i];
    if (a < 0x80) {
      out += String.fromCharCode(a);
      i += 1;
    } else if ((a & 0xe0) === 0xc0) {
      out += String.fromCharCode(((a & 0x1f) << 6) | (bytes[i + 1] & 0x3f));
      i += 2;
    } else {
      out += String.fromCharCode(((a & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f));
      i += 3;
    }
  }
  return out;
}

/** Owner class, name and descriptor of a Fieldref, Methodref or InterfaceMethodref constant. */
export function memberRef(
  cls: ClassFile,
  index: number,
): { owner: string; name: string; descriptor: string } {
  const ref = cls.constants[index];
  if (ref?.tag !== "ref") throw new Error(`${cls.name}: constant ${index} is not a member reference`);
  const owner = cls.constants[ref.owner];
  const nameAndType = cls.constants[ref.nameAndType];
  if (owner?.tag !== "class" || nameAndType?.tag !== "nameAndType") {
    throw new Error(`${cls.name}: malformed member reference ${index}`);
  }
  return {
    owner: utf8At(cls, owner.name),
    name: utf8At(cls, nameAndType.name),
    descriptor: utf8At(cls, nameAndType.descriptor),
  };
}

export function utf8At(cls: ClassFile, index: number): string {
  const c = cls.constants[index];
  if (c?.tag !== "utf8") throw new Error(`${cls.name}: constant ${index} is not a Utf8 entry`);
  return c.value;
}

export function classNameAt(cls: ClassFile, index: number): string {
  const c = cls.constants[index];
  if (c?.tag !== "class") throw new Error(`${cls.name}: constant ${index} is not a Class entry`);
  return utf8At(cls, c.name);
}
