/**
 * Kafka's error codes, read from the compiled org.apache.kafka.common.protocol.Errors enum in the
 * kafka-clients jar (the sources jar of this release is not published). Each constant is built in the
 * enum's static initializer as `NAME(code, "message", SomeException::new)`; javac folds the message's
 * concatenated literals into one constant and compiles the constructor reference to an invokedynamic
 * whose bootstrap arguments name the exception class. An error is retriable when that class extends
 * RetriableException, directly or through other classes, as Kafka's `exception() instanceof
 * RetriableException` decides.
 */
import {
  ACC_ENUM,
  type ClassFile,
  classNameAt,
  memberRef,
  parseClassFile,
  REF_INVOKE_STATIC,
  REF_NEW_INVOKE_SPECIAL,
} from "./classfile.ts";
import { readZipEntries } from "./jar.ts";

export const ERRORS_CLASS = "org/apache/kafka/common/protocol/Errors";
const RETRIABLE_EXCEPTION = "org/apache/kafka/common/errors/RetriableException";
const ERRORS_CONSTRUCTOR = "(Ljava/lang/String;IILjava/lang/String;Ljava/util/function/Function;)V";
const LAMBDA_METAFACTORY = "java/lang/invoke/LambdaMetafactory";

export interface KafkaErrorSpec {
  /** The enum constant, e.g. "UNKNOWN_TOPIC_OR_PARTITION". */
  readonly name: string;
  readonly code: number;
  /** The default message; null for NONE. */
  readonly message: string | null;
  /** Internal name of the exception class; null for NONE. */
  readonly exception: string | null;
  readonly retriable: boolean;
}

type Value =
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "int"; readonly value: number }
  | { readonly kind: "null" }
  | { readonly kind: "new"; readonly cls: string }
  | { readonly kind: "factory"; readonly exception: string | null }
  | {
      readonly kind: "error";
      readonly name: string;
      readonly code: number;
      readonly message: string | null;
      readonly exception: string | null;
    };

export function loadKafkaErrors(jar: string): KafkaErrorSpec[] {
  const classes = loadClasses(jar, [ERRORS_CLASS]);
  const errors = parseErrorsClass(classes.get(ERRORS_CLASS)!);
  const exceptions = errors.map((e) => e.exception).filter((e) => e !== null);
  const chains = superclassChains(jar, exceptions);
  return errors.map((e) => ({
    ...e,
    retriable: e.exception !== null && chains.get(e.exception)!.includes(RETRIABLE_EXCEPTION),
  }));
}

function parseErrorsClass(cls: ClassFile): Omit<KafkaErrorSpec, "retriable">[] {
  const clinit = cls.methods.find((m) => m.name === "<clinit>")?.code;
  if (clinit == null) throw new Error(`${cls.name} has no static initializer`);
  const stack: Value[] = [];
  const out: Omit<KafkaErrorSpec, "retriable">[] = [];
  let p = 0;
  run: while (p < clinit.length) {
    const op = clinit[p];
    switch (op) {
      case 0x01: // aconst_null
        stack.push({ kind: "null" });
        p += 1;
        break;
      case 0x02:
      case 0x03:
      case 0x04:
      case 0x05:
      case 0x06:
      case 0x07:
      case 0x08: // iconst_m1 .. iconst_5
        stack.push({ kind: "int", value: op - 0x03 });
        p += 1;
        break;
      case 0x10: // bipush
        stack.push({ kind: "int", value: clinit.readInt8(p + 1) });
        p += 2;
        break;
      case 0x11: // sipush
        stack.push({ kind: "int", value: clinit.readInt16BE(p + 1) });
        p += 3;
        break;
      case 0x12: // ldc, ldc_w
      case 0x13: {
        const index = op === 0x12 ? clinit[p + 1] : clinit.readUInt16BE(p + 1);
        const c = cls.constants[index];
        if (c?.tag === "string") stack.push({ kind: "string", value: stringAt(cls, c.utf8) });
        else if (c?.tag === "integer") stack.push({ kind: "int", value: c.value });
        else break run;
        p += op === 0x12 ? 2 : 3;
        break;
      }
      case 0x59: // dup
        stack.push(stack[stack.length - 1]);
        p += 1;
        break;
      case 0xbb: // new
        stack.push({ kind: "new", cls: classNameAt(cls, clinit.readUInt16BE(p + 1)) });
        p += 3;
        break;
      case 0xba: // invokedynamic
        stack.push({ kind: "factory", exception: lambdaTarget(cls, clinit.readUInt16BE(p + 1)) });
        p += 5;
        break;
      case 0xb7: {
        // invokespecial: the constructor consumes the duplicated reference, the other one is stored next.
        const ref = memberRef(cls, clinit.readUInt16BE(p + 1));
        if (ref.owner !== cls.name || ref.name !== "<init>") break run;
        if (ref.descriptor !== ERRORS_CONSTRUCTOR) {
          throw new Error(
            `${cls.name}: unexpected constructor ${ref.descriptor}; the error table reader needs updating`,
          );
        }
        if (stack.length < 7) throw new Error(`${cls.name}.<clinit>: stack underflow at offset ${p}`);
        const [target, name, ordinal, code, message, factory] = stack.splice(-6);
        if (
          stack[stack.length - 1].kind !== "new" ||
          target.kind !== "new" ||
          name.kind !== "string" ||
          ordinal.kind !== "int" ||
          ordinal.value !== out.length ||
          code.kind !== "int" ||
          (message.kind !== "string" && message.kind !== "null") ||
          factory.kind !== "factory"
        ) {
          throw new Error(`${cls.name}: enum constant at offset ${p} is not NAME(code, message, factory)`);
        }
        stack[stack.length - 1] = {
          kind: "error",
          name: name.value,
          code: code.value,
          message: message.kind === "string" ? message.value : null,
          exception: factory.exception,
        };
        p += 3;
        break;
      }
      case 0xb3: {
        // putstatic
        const field = memberRef(cls, clinit.readUInt16BE(p + 1));
        const value = stack[stack.length - 1];
        if (value?.kind !== "error") break run;
        stack.pop();
        if (field.name !== value.name)
          throw new Error(`${cls.name}: ${value.name} stored into ${field.name}`);
        out.push({ name: value.name, code: value.code, message: value.message, exception: value.exception });
        p += 3;
        break;
      }
      default:
        break run;
    }
  }
  const constants = cls.fields.filter((f) => (f.access & ACC_ENUM) !== 0).map((f) => f.name);
  const read = out.map((e) => e.name);
  if (constants.join() !== read.join()) {
    throw new Error(
      `${cls.name}: read ${read.length} of its ${constants.length} constants from the static initializer; the error table reader needs updating`,
    );
  }
  const codes = new Set<number>();
  for (const e of out) {
    if (codes.has(e.code)) throw new Error(`${cls.name}: code ${e.code} appears twice`);
    codes.add(e.code);
  }
  return out;
}

/**
 * The exception class a `Foo::new` or `message -> new Foo(...)` factory creates; null for a lambda that
 * returns null (NONE).
 */
function lambdaTarget(cls: ClassFile, index: number): string | null {
  const indy = cls.constants[index];
  if (indy?.tag !== "invokeDynamic") throw new Error(`${cls.name}: constant ${index} is not InvokeDynamic`);
  const bootstrap = cls.bootstrapMethods[indy.bootstrap];
  const metafactory = cls.constants[bootstrap.method];
  const implementation = cls.constants[bootstrap.args[1]];
  if (
    metafactory?.tag !== "methodHandle" ||
    memberRef(cls, metafactory.ref).owner !== LAMBDA_METAFACTORY ||
    implementation?.tag !== "methodHandle"
  ) {
    throw new Error(`${cls.name}: invokedynamic ${index} is not a lambda`);
  }
  const target = memberRef(cls, implementation.ref);
  if (implementation.kind === REF_NEW_INVOKE_SPECIAL) return target.owner;
  if (implementation.kind === REF_INVOKE_STATIC && target.owner === cls.name) {
    const body = cls.methods.find((m) => m.name === target.name && m.descriptor === target.descriptor)?.code;
    if (body != null && body.length === 2 && body[0] === 0x01 && body[1] === 0xb0) return null;
    if (body != null && body[0] === 0xbb) return classNameAt(cls, body.readUInt16BE(1));
  }
  throw new Error(`${cls.name}: cannot tell which exception ${target.owner}.${target.name} creates`);
}

function stringAt(cls: ClassFile, utf8: number): string {
  const c = cls.constants[utf8];
  if (c?.tag !== "utf8") throw new Error(`${cls.name}: constant ${utf8} is not a Utf8 entry`);
  return c.value;
}

/** Parsed classes from the jar by internal name. */
function loadClasses(jar: string, names: readonly string[]): Map<string, ClassFile> {
  const wanted = new Set(names.map((n) => `${n}.class`));
  const entries = readZipEntries(jar, (name) => wanted.has(name));
  const out = new Map<string, ClassFile>();
  for (const name of names) {
    const data = entries.get(`${name}.class`);
    if (data === undefined) throw new Error(`${jar} has no ${name}.class`);
    const cls = parseClassFile(data);
    if (cls.name !== name) throw new Error(`${name}.class declares ${cls.name}`);
    out.set(name, cls);
  }
  return out;
}

/** Each class with its superclasses, nearest first, up to the first class outside the jar (java.*). */
function superclassChains(jar: string, names: readonly string[]): Map<string, string[]> {
  const superOf = new Map<string, string | null>();
  let pending = [...new Set(names)];
  while (pending.length > 0) {
    for (const [name, cls] of loadClasses(jar, pending)) superOf.set(name, cls.superName);
    pending = [
      ...new Set(
        [...superOf.values()].filter(
          (s): s is string => s !== null && !s.startsWith("java/") && !superOf.has(s),
        ),
      ),
    ];
  }
  const chains = new Map<string, string[]>();
  for (const name of new Set(names)) {
    const chain: string[] = [];
    for (let s = superOf.get(name); s != null; s = superOf.get(s)) chain.push(s);
    chains.set(name, chain);
  }
  return chains;
}
