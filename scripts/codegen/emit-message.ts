import {
  contains,
  type FieldSpec,
  type FieldType,
  formatVersions,
  intersect,
  isEmpty,
  MAX_VERSION,
  type MessageSpec,
  type StructSpec,
  structOf,
  subtract,
  type Versions,
} from "./spec.ts";

/** Lines of TypeScript with two-space indentation. */
class Code {
  readonly lines: string[] = [];
  #depth = 0;

  line(text = ""): this {
    this.lines.push(text === "" ? "" : "  ".repeat(this.#depth) + text);
    return this;
  }

  open(text: string): this {
    this.line(text);
    this.#depth++;
    return this;
  }

  close(text = "}"): this {
    this.#depth--;
    this.line(text);
    return this;
  }

  /** `}` + continuation on one line, e.g. `} else {`. */
  reopen(text: string): this {
    this.#depth--;
    this.line(text);
    this.#depth++;
    return this;
  }

  toString(): string {
    return this.lines.join("\n");
  }
}

/**
 * A boolean TypeScript expression over the runtime version `v`, simplified with what is known about
 * the versions the code can run at: "true", "false", or e.g. "v >= 3".
 */
export function versionCondition(wanted: Versions, possible: Versions): string {
  const live = intersect(wanted, possible);
  if (isEmpty(live)) return "false";
  if (contains(wanted, possible)) return "true";
  const needLo = live.lo > possible.lo;
  const needHi = live.hi < possible.hi;
  if (needLo && needHi)
    return live.lo === live.hi ? `v === ${live.lo}` : `v >= ${live.lo} && v <= ${live.hi}`;
  if (needLo) return `v >= ${live.lo}`;
  return `v <= ${live.hi}`;
}

function not(condition: string): string {
  if (condition === "true") return "false";
  if (condition === "false") return "true";
  return `!(${condition})`;
}

/** Picks between expressions by a condition, folding constant conditions. */
function choose(condition: string, whenTrue: string, whenFalse: string): string {
  if (condition === "true") return whenTrue;
  if (condition === "false") return whenFalse;
  if (whenTrue === whenFalse) return whenTrue;
  return `(${condition} ? ${whenTrue} : ${whenFalse})`;
}

const FIXED_SIZES: Record<string, number> = {
  bool: 1,
  int8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  float64: 8,
  uuid: 16,
};

const SCALAR_TS: Record<string, string> = {
  bool: "boolean",
  int8: "number",
  int16: "number",
  uint16: "number",
  int32: "number",
  uint32: "number",
  int64: "bigint",
  float64: "number",
  uuid: "string",
  string: "string",
  bytes: "Buffer",
  records: "Buffer",
};

const BASE64URL = /^[A-Za-z0-9_-]{22}$/;

/** Emits the TypeScript module for one message definition. */
export class MessageEmitter {
  readonly #m: MessageSpec;
  readonly #apiLabel: string;
  /** Versions each struct can be read or written at (from how it is reached). */
  readonly #possible = new Map<string, Versions>();
  readonly #needsDefaultFactory = new Set<string>();
  readonly #needsIsDefault = new Set<string>();

  constructor(message: MessageSpec) {
    this.#m = message;
    this.#apiLabel = apiLabel(message);
    this.#walk(message.top, message.validVersions);
    this.#possible.set(message.top.name, message.validVersions);
    this.#planHelpers();
  }

  #walk(s: StructSpec, possible: Versions): void {
    for (const f of s.fields) {
      const name = structOf(f.type);
      if (name === null) continue;
      const reach = intersect(f.versions, possible);
      if (isEmpty(reach)) continue;
      const struct = this.#struct(name);
      const before = this.#possible.get(name);
      const merged = before === undefined ? reach : hullOf(before, reach);
      if (before !== undefined && before.lo === merged.lo && before.hi === merged.hi) continue;
      this.#possible.set(name, merged);
      this.#walk(struct, merged);
    }
  }

  #struct(name: string): StructSpec {
    if (name === this.#m.top.name) return this.#m.top;
    const s = this.#m.structs.get(name);
    if (s === undefined) throw new Error(`${this.#m.fileName}: unknown struct ${name}`);
    return s;
  }

  #possibleOf(s: StructSpec): Versions {
    return this.#possible.get(s.name) ?? { lo: 1, hi: 0 };
  }

  /** Structs whose default object or default check the codec needs. */
  #planHelpers(): void {
    const visit = (s: StructSpec) => {
      for (const f of s.fields) {
        if (f.type.kind !== "struct") continue;
        const name = f.type.name;
        if (f.default !== "null") this.#addDefaultFactory(name);
        this.#addIsDefault(name);
      }
    };
    visit(this.#m.top);
    for (const s of this.#m.structs.values()) visit(s);
  }

  #addDefaultFactory(name: string): void {
    if (this.#needsDefaultFactory.has(name)) return;
    this.#needsDefaultFactory.add(name);
    for (const f of this.#struct(name).fields) {
      if (f.type.kind === "struct" && f.default !== "null") this.#addDefaultFactory(f.type.name);
    }
  }

  #addIsDefault(name: string): void {
    if (this.#needsIsDefault.has(name)) return;
    this.#needsIsDefault.add(name);
    for (const f of this.#struct(name).fields) {
      if (f.type.kind === "struct") this.#addIsDefault(f.type.name);
    }
  }

  emit(header: string): string {
    const m = this.#m;
    const body = new Code();
    const structs = [m.top, ...m.structs.values()];
    for (const s of structs) this.#emitInterface(body, s);
    this.#emitEntryPoints(body);
    for (const s of structs) {
      if (isEmpty(this.#possibleOf(s))) continue;
      this.#emitReader(body, s);
      this.#emitWriter(body, s);
    }
    for (const s of structs) {
      if (this.#needsDefaultFactory.has(s.name)) this.#emitDefaultFactory(body, s);
      if (this.#needsIsDefault.has(s.name)) this.#emitIsDefault(body, s);
    }
    const text = body.toString();
    return `${header}\n${this.#imports(text)}${text}\n`;
  }

  #imports(text: string): string {
    const uses = (name: string) => new RegExp(`\\b${name}\\b`).test(text);
    const lines: string[] = [];
    const errors = [
      "fieldError",
      "indexError",
      "messageError",
      "nonDefaultAtVersion",
      "nullNotAllowed",
      "tagNotValidAtVersion",
      "unsupportedVersion",
    ].filter(uses);
    if (errors.length > 0) lines.push(`import { ${errors.join(", ")} } from "../../errors.ts";`);
    lines.push(`import type { Reader } from "../../primitives/reader.ts";`);
    const tagged = [
      "beginTaggedField",
      "checkNoTaggedFields",
      "countTaggedFields",
      "EMPTY_BUFFER",
      "endTaggedField",
      "readTaggedFields",
      "readUnknownTaggedField",
      "writeTaggedBytes",
      "writeTaggedFields",
      "writeTaggedFieldsBelow",
      "writeTaggedString",
    ].filter(uses);
    const taggedType = uses("TaggedField") ? ["type TaggedField"] : [];
    const taggedAll = [...tagged, ...taggedType];
    if (taggedAll.length > 0) {
      const onlyTypes = tagged.length === 0;
      lines.push(
        onlyTypes
          ? `import type { TaggedField } from "../../primitives/tagged.ts";`
          : `import { ${taggedAll.join(", ")} } from "../../primitives/tagged.ts";`,
      );
    }
    lines.push(
      uses("new Writer")
        ? `import { Writer } from "../../primitives/writer.ts";`
        : `import type { Writer } from "../../primitives/writer.ts";`,
    );
    return `${lines.join("\n")}\n`;
  }

  // ---- types ----

  #tsType(f: FieldSpec): string {
    const nullable = !isEmpty(intersect(f.nullableVersions, f.versions)) || isRecords(f.type);
    const base = tsTypeOf(f.type);
    return nullable ? `${base} | null` : base;
  }

  #emitInterface(code: Code, s: StructSpec): void {
    code.line();
    if (s === this.#m.top) {
      code.line(`/** ${this.#m.name}, versions ${formatVersions(this.#m.validVersions)}. */`);
    }
    code.open(`export interface ${s.name} {`);
    for (const f of s.fields) {
      const about = f.about.replace(/\*\//g, "*\\/").trim();
      const notes = [`versions ${formatVersions(f.versions)}`];
      if (!isEmpty(f.nullableVersions)) notes.push(`nullable ${formatVersions(f.nullableVersions)}`);
      if (f.tag !== null) notes.push(`tag ${f.tag} from ${formatVersions(f.taggedVersions)}`);
      if (f.default !== "") notes.push(`default ${f.default}`);
      code.line(`/** ${about === "" ? "" : `${about} `}(${notes.join(", ")}) */`);
      code.line(`${f.name}: ${this.#tsType(f)};`);
    }
    code.line("unknownTaggedFields?: TaggedField[];");
    code.close();
  }

  // ---- entry points ----

  #emitEntryPoints(code: Code): void {
    const m = this.#m;
    const name = m.name;
    const { lo, hi } = m.validVersions;
    const label = JSON.stringify(this.#apiLabel);
    code.line();
    code.open(`export function decode${name}(r: Reader, version: number): ${name} {`);
    code.line(
      `if (!(version >= ${lo} && version <= ${hi})) throw unsupportedVersion(${label}, version, ${lo}, ${hi});`,
    );
    code.open("try {");
    code.line(`return read${name}(r, version);`);
    code.reopen("} catch (e) {");
    code.line(`throw messageError(e, ${label}, version);`);
    code.close();
    code.close();
    code.line();
    code.open(`export function encode${name}(w: Writer, version: number, m: ${name}): void {`);
    code.line(
      `if (!(version >= ${lo} && version <= ${hi})) throw unsupportedVersion(${label}, version, ${lo}, ${hi});`,
    );
    code.open("try {");
    code.line(`write${name}(w, version, m);`);
    code.reopen("} catch (e) {");
    code.line(`throw messageError(e, ${label}, version);`);
    code.close();
    code.close();
  }

  // ---- flexible versions ----

  #flexCondition(f: FieldSpec | null, possible: Versions): string {
    const flexible = f?.flexibleVersions ?? this.#m.flexibleVersions;
    return versionCondition(flexible, possible);
  }

  /** The flexible condition, using the struct's `flex` local when it depends on the version. */
  #flexExpr(f: FieldSpec | null, possible: Versions, structFlex: string): string {
    const c = this.#flexCondition(f, possible);
    if (c === "true" || c === "false") return c;
    if (f?.flexibleVersions === null || f === null) return structFlex === c ? "flex" : c;
    return c;
  }

  // ---- reader ----

  #emitReader(code: Code, s: StructSpec): void {
    const possible = this.#possibleOf(s);
    const flexCond = this.#flexCondition(null, possible);
    code.line();
    code.open(`function read${s.name}(r: Reader, v: number): ${s.name} {`);
    if (flexCond !== "true" && flexCond !== "false") code.line(`const flex = ${flexCond};`);
    code.line(`let f = "";`);
    code.open("try {");
    if (!contains(s.versions, possible)) {
      const c = versionCondition(s.versions, possible);
      code.line(
        `if (${not(c)}) throw unsupportedVersion(${JSON.stringify(s.name)}, v, ${s.versions.lo}, ${s.versions.hi});`,
      );
    }
    for (const f of s.fields) {
      const mandatory = intersect(subtract(f.versions, f.taggedVersions), possible);
      const present = versionCondition(mandatory, possible);
      const local = `_${f.name}`;
      const tagged = !isEmpty(intersect(intersect(f.taggedVersions, f.versions), possible));
      const decl = tagged ? "let" : "const";
      if (present === "false") {
        code.line(`${decl} ${local}: ${this.#tsType(f)} = ${this.#defaultExpr(f)};`);
        continue;
      }
      code.line(`f = ${JSON.stringify(f.name)};`);
      const simple = this.#simpleReadExpr(f, mandatory, flexCond);
      if (simple !== null) {
        code.line(`${decl} ${local}: ${this.#tsType(f)} = ${choose(present, simple, this.#defaultExpr(f))};`);
        continue;
      }
      code.line(`let ${local}: ${this.#tsType(f)};`);
      if (present === "true") {
        this.#readInto(code, local, f, mandatory, flexCond, false);
      } else {
        code.open(`if (${present}) {`);
        this.#readInto(code, local, f, mandatory, flexCond, false);
        code.reopen("} else {");
        code.line(`${local} = ${this.#defaultExpr(f)};`);
        code.close();
      }
    }
    this.#emitTaggedRead(code, s, possible, flexCond);
    const props = s.fields.map((f) => `${f.name}: _${f.name}`);
    props.push(`unknownTaggedFields: ${flexCond === "false" ? "undefined" : "_unknownTaggedFields"}`);
    code.line(`return { ${props.join(", ")} };`);
    code.reopen("} catch (e) {");
    code.line("throw fieldError(e, f);");
    code.close();
    code.close();
  }

  /** An expression reading the field, when one expression suffices. */
  #simpleReadExpr(f: FieldSpec, versions: Versions, structFlex: string): string | null {
    const t = f.type;
    if (t.kind !== "primitive") return null;
    const flex = this.#flexExpr(f, versions, structFlex);
    const [nullableFlex, nullableClassic] = this.#nullableBySerialization(f, versions);
    const names =
      t.name === "string"
        ? ["compactNullableString", "compactString", "nullableString", "string"]
        : ["compactNullableBytes", "compactBytes", "nullableBytes", "bytes"];
    switch (t.name) {
      case "string":
      case "bytes":
      case "records":
        return choose(
          flex,
          choose(nullableFlex, `r.${names[0]}()`, `r.${names[1]}()`),
          choose(nullableClassic, `r.${names[2]}()`, `r.${names[3]}()`),
        );
      default:
        return `r.${t.name}()`;
    }
  }

  /** The nullable condition within the flexible versions and within the classic versions of `versions`. */
  #nullableBySerialization(f: FieldSpec, versions: Versions): [string, string] {
    const flexible = f.flexibleVersions ?? this.#m.flexibleVersions;
    const flexVersions = intersect(versions, flexible);
    const classicVersions = subtract(versions, flexible);
    return [
      versionCondition(f.nullableVersions, flexVersions),
      versionCondition(f.nullableVersions, classicVersions),
    ];
  }

  /** Statements that read field `f` into `local` at `versions` (where it is present). */
  #readInto(
    code: Code,
    local: string,
    f: FieldSpec,
    versions: Versions,
    structFlex: string,
    tagged: boolean,
  ): void {
    const t = f.type;
    const nullable = versionCondition(f.nullableVersions, versions);
    if (t.kind === "primitive") {
      code.line(`${local} = ${this.#simpleReadExpr(f, versions, structFlex)};`);
    } else if (t.kind === "struct") {
      const read = `read${t.name}(r, v)`;
      const marker = tagged ? "r.unsignedVarint() <= 0" : "r.int8() < 0";
      code.line(`${local} = ${choose(nullable, `${marker} ? null : ${read}`, read)};`);
    } else {
      const flex = this.#flexExpr(f, versions, structFlex);
      const element = t.element;
      const min = element.kind === "primitive" ? (FIXED_SIZES[element.name] ?? 1) : 1;
      code.open("{");
      code.line(`const n = ${choose(flex, `r.compactArrayLength(${min})`, `r.arrayLength(${min})`)};`);
      code.open("if (n < 0) {");
      code.line(
        nullable === "true"
          ? `${local} = null;`
          : nullable === "false"
            ? "throw nullNotAllowed();"
            : `if (${not(nullable)}) throw nullNotAllowed();`,
      );
      if (nullable !== "true" && nullable !== "false") code.line(`${local} = null;`);
      code.reopen("} else {");
      const elementTs = tsTypeOf(element);
      code.line(`const a: ${elementTs}[] = [];`);
      const readElement = this.#elementReadExpr(element, flex);
      if (element.kind === "primitive" && FIXED_SIZES[element.name] !== undefined) {
        code.line(`for (let i = 0; i < n; i++) a.push(${readElement});`);
      } else {
        code.line("let i = 0;");
        code.open("try {");
        code.line(`for (; i < n; i++) a.push(${readElement});`);
        code.reopen("} catch (e) {");
        code.line("throw indexError(e, i);");
        code.close();
      }
      code.line(`${local} = a;`);
      code.close();
      code.close();
    }
  }

  #elementReadExpr(element: FieldType, flex: string): string {
    if (element.kind === "struct") return `read${element.name}(r, v)`;
    if (element.kind === "array") throw new Error("nested arrays are not supported");
    switch (element.name) {
      case "string":
        return choose(flex, "r.compactString()", "r.string()");
      case "bytes":
      case "records":
        return choose(flex, "r.compactBytes()", "r.bytes()");
      default:
        return `r.${element.name}()`;
    }
  }

  #emitTaggedRead(code: Code, s: StructSpec, possible: Versions, flexCond: string): void {
    if (flexCond === "false") return;
    const flexible = intersect(this.#m.flexibleVersions, possible);
    const taggedFields = s.fields.filter(
      (f) => !isEmpty(intersect(intersect(f.taggedVersions, f.versions), possible)),
    );
    code.line("let _unknownTaggedFields: TaggedField[] | undefined;");
    const guard = flexCond === "true" ? null : "flex";
    if (guard !== null) code.open(`if (${guard}) {`);
    code.line(`f = "(tagged fields)";`);
    if (taggedFields.length === 0) {
      code.line("_unknownTaggedFields = readTaggedFields(r);");
    } else {
      code.open("for (let k = r.unsignedVarint(); k > 0; k--) {");
      code.line("const tag = r.unsignedVarint();");
      code.line("const size = r.unsignedVarint();");
      code.open("switch (tag) {");
      for (const f of [...taggedFields].sort((a, b) => a.tag! - b.tag!)) {
        const taggedAt = intersect(intersect(f.taggedVersions, f.versions), flexible);
        const valid = versionCondition(taggedAt, flexible);
        code.open(`case ${f.tag}: {`);
        code.line(`f = ${JSON.stringify(f.name)};`);
        if (valid !== "true") code.line(`if (${not(valid)}) throw tagNotValidAtVersion(${f.tag}, v);`);
        code.line("const outerEnd = beginTaggedField(r, size);");
        this.#readInto(code, `_${f.name}`, f, taggedAt, "true", true);
        code.line("endTaggedField(r, outerEnd);");
        code.line(`f = "(tagged fields)";`);
        code.line("break;");
        code.close();
      }
      code.line("default:");
      code.line("  _unknownTaggedFields = readUnknownTaggedField(r, _unknownTaggedFields, tag, size);");
      code.close();
      code.close();
    }
    if (guard !== null) code.close();
  }

  // ---- writer ----

  #emitWriter(code: Code, s: StructSpec): void {
    const possible = this.#possibleOf(s);
    const flexCond = this.#flexCondition(null, possible);
    code.line();
    code.open(`function write${s.name}(w: Writer, v: number, m: ${s.name}): void {`);
    if (flexCond !== "true" && flexCond !== "false") code.line(`const flex = ${flexCond};`);
    code.line(`let f = "";`);
    code.open("try {");
    if (!contains(s.versions, possible)) {
      const c = versionCondition(s.versions, possible);
      code.line(
        `if (${not(c)}) throw unsupportedVersion(${JSON.stringify(s.name)}, v, ${s.versions.lo}, ${s.versions.hi});`,
      );
    }
    for (const f of s.fields) {
      const untagged = intersect(subtract(f.versions, f.taggedVersions), possible);
      const writeCond = versionCondition(untagged, possible);
      const presentCond = versionCondition(f.versions, possible);
      const absentCheck = !f.ignorable && presentCond !== "true";
      if (writeCond === "false" && !absentCheck) continue;
      code.line(`f = ${JSON.stringify(f.name)};`);
      if (writeCond === "true") {
        this.#writeValue(code, `m.${f.name}`, f, untagged, flexCond);
      } else if (writeCond !== "false") {
        code.open(`if (${writeCond}) {`);
        this.#writeValue(code, `m.${f.name}`, f, untagged, flexCond);
        code.close();
      }
      if (absentCheck) {
        const absent = not(presentCond);
        const check = this.#nonDefaultExpr(f, `m.${f.name}`);
        code.line(
          `if (${absent === "true" ? check : `${absent} && ${check}`}) throw nonDefaultAtVersion(v);`,
        );
      }
    }
    this.#emitTaggedWrite(code, s, possible, flexCond);
    code.reopen("} catch (e) {");
    code.line("throw fieldError(e, f);");
    code.close();
    code.close();
  }

  /** Statements writing `expr` as field `f` at `versions` (untagged). */
  #writeValue(code: Code, expr: string, f: FieldSpec, versions: Versions, structFlex: string): void {
    const t = f.type;
    const nullable = versionCondition(f.nullableVersions, versions);
    const typeNullable = !isEmpty(intersect(f.nullableVersions, f.versions)) || isRecords(t);
    const flex = this.#flexExpr(f, versions, structFlex);
    if (t.kind === "primitive") {
      const cast = (ts: string) => (typeNullable ? `${expr} as ${ts}` : expr);
      const nullableBy = this.#nullableBySerialization(f, versions);
      switch (t.name) {
        case "string":
          emitPick(
            code,
            flex,
            nullableBy,
            ["compactNullableString", "compactString", "nullableString", "string"],
            expr,
            cast("string"),
          );
          return;
        case "bytes":
        case "records":
          emitPick(
            code,
            flex,
            nullableBy,
            ["compactNullableBytes", "compactBytes", "nullableBytes", "bytes"],
            expr,
            cast("Buffer"),
          );
          return;
        default:
          code.line(`w.${t.name}(${expr});`);
          return;
      }
    }
    if (t.kind === "struct") {
      const write = (x: string) => `write${t.name}(w, v, ${x});`;
      if (!typeNullable) {
        code.line(write(expr));
        return;
      }
      code.open("{");
      code.line(`const s = ${expr};`);
      if (nullable === "true") {
        code.line("if (s === null) w.int8(-1);");
        code.open("else {");
        code.line("w.int8(1);");
        code.line(write("s"));
        code.close();
      } else if (nullable === "false") {
        code.line("if (s === null) throw nullNotAllowed();");
        code.line(write("s"));
      } else {
        code.open("if (s === null) {");
        code.line(`if (${not(nullable)}) throw nullNotAllowed();`);
        code.line("w.int8(-1);");
        code.reopen("} else {");
        code.line(`if (${nullable}) w.int8(1);`);
        code.line(write("s"));
        code.close();
      }
      code.close();
      return;
    }
    this.#writeArray(code, expr, f, t.element, nullable, typeNullable, flex);
  }

  #writeArray(
    code: Code,
    expr: string,
    f: FieldSpec,
    element: FieldType,
    nullable: string,
    typeNullable: boolean,
    flex: string,
  ): void {
    code.open("{");
    code.line(`const a = ${expr};`);
    if (typeNullable) {
      if (nullable === "false") code.line("if (a === null) throw nullNotAllowed();");
      else {
        code.open("if (a === null) {");
        if (nullable !== "true") code.line(`if (${not(nullable)}) throw nullNotAllowed();`);
        emitChoice(code, flex, "w.unsignedVarint(0);", "w.int32(-1);");
        code.reopen("} else {");
      }
    }
    emitChoice(code, flex, "w.compactArrayLength(a.length);", "w.arrayLength(a.length);");
    const writeElement = this.#elementWriteStatement(element, flex, "a[i]");
    code.line("let i = 0;");
    code.open("try {");
    code.line(`for (; i < a.length; i++) ${writeElement}`);
    code.reopen("} catch (e) {");
    code.line("throw indexError(e, i);");
    code.close();
    if (typeNullable && nullable !== "false") code.close();
    code.close();
    void f;
  }

  #elementWriteStatement(element: FieldType, flex: string, x: string): string {
    if (element.kind === "struct") return `write${element.name}(w, v, ${x});`;
    if (element.kind === "array") throw new Error("nested arrays are not supported");
    switch (element.name) {
      case "string":
        return flex === "true" || flex === "false"
          ? `w.${flex === "true" ? "compactString" : "string"}(${x});`
          : `if (${flex}) w.compactString(${x}); else w.string(${x});`;
      case "bytes":
      case "records":
        return flex === "true" || flex === "false"
          ? `w.${flex === "true" ? "compactBytes" : "bytes"}(${x});`
          : `if (${flex}) w.compactBytes(${x}); else w.bytes(${x});`;
      default:
        return `w.${element.name}(${x});`;
    }
  }

  #emitTaggedWrite(code: Code, s: StructSpec, possible: Versions, flexCond: string): void {
    if (flexCond === "false") {
      code.line(`f = "(tagged fields)";`);
      code.line("checkNoTaggedFields(m.unknownTaggedFields, v);");
      return;
    }
    const flexible = intersect(this.#m.flexibleVersions, possible);
    const taggedFields = s.fields
      .filter((f) => !isEmpty(intersect(intersect(f.taggedVersions, f.versions), possible)))
      .sort((a, b) => a.tag! - b.tag!);
    const guard = flexCond === "true" ? null : "flex";
    if (guard !== null) code.open(`if (${guard}) {`);
    code.line(`f = "(tagged fields)";`);
    if (taggedFields.length === 0) {
      code.line("writeTaggedFields(w, m.unknownTaggedFields);");
    } else {
      code.line("const u = m.unknownTaggedFields;");
      code.line("let count = countTaggedFields(u);");
      for (const f of taggedFields) {
        const taggedAt = intersect(intersect(f.taggedVersions, f.versions), flexible);
        const valid = versionCondition(taggedAt, flexible);
        const nonDefault = this.#nonDefaultExpr(f, `m.${f.name}`);
        code.line(
          `const has${capitalize(f.name)} = ${valid === "true" ? nonDefault : `${valid} && ${nonDefault}`};`,
        );
        code.line(`if (has${capitalize(f.name)}) count++;`);
      }
      code.line("w.unsignedVarint(count);");
      code.line("let ui = 0;");
      for (const f of taggedFields) {
        const taggedAt = intersect(intersect(f.taggedVersions, f.versions), flexible);
        code.line(`ui = writeTaggedFieldsBelow(w, u, ui, ${f.tag});`);
        code.open(`if (has${capitalize(f.name)}) {`);
        code.line(`f = ${JSON.stringify(f.name)};`);
        this.#writeTaggedValue(code, f, taggedAt);
        code.close();
      }
      code.line("writeTaggedFieldsBelow(w, u, ui, Number.POSITIVE_INFINITY);");
    }
    if (guard !== null) {
      code.reopen("} else {");
      code.line("checkNoTaggedFields(m.unknownTaggedFields, v);");
      code.close();
    }
  }

  #writeTaggedValue(code: Code, f: FieldSpec, versions: Versions): void {
    const t = f.type;
    const expr = `m.${f.name}`;
    const typeNullable = !isEmpty(intersect(f.nullableVersions, f.versions));
    const nullable = versionCondition(f.nullableVersions, versions);
    if (t.kind === "primitive") {
      if (t.name === "string") {
        code.line(`writeTaggedString(w, ${f.tag}, ${expr});`);
        return;
      }
      if (t.name === "bytes") {
        code.line(`writeTaggedBytes(w, ${f.tag}, ${expr});`);
        return;
      }
      if (t.name === "records") throw new Error(`${f.jsonName}: records cannot be tagged`);
      code.line(`w.unsignedVarint(${f.tag});`);
      code.line(`w.unsignedVarint(${FIXED_SIZES[t.name]});`);
      code.line(`w.${t.name}(${expr});`);
      return;
    }
    // Structs and arrays: encode into a scratch writer to learn the size.
    code.line("const outer = w;");
    code.open("{");
    code.line("const w = new Writer(256);");
    if (t.kind === "struct") {
      if (typeNullable) {
        code.line(`const s = ${expr};`);
        if (nullable !== "true") code.line(`if (s === null) throw nullNotAllowed();`);
        code.line("if (s === null) w.unsignedVarint(0);");
        code.open("else {");
        code.line("w.unsignedVarint(1);");
        code.line(`write${t.name}(w, v, s);`);
        code.close();
      } else {
        code.line(`write${t.name}(w, v, ${expr});`);
      }
    } else {
      this.#writeArray(code, expr, f, t.element, nullable, typeNullable, "true");
    }
    code.line("const data = w.finish();");
    code.line(`outer.unsignedVarint(${f.tag});`);
    code.line("outer.unsignedVarint(data.length);");
    code.line("outer.raw(data);");
    code.close();
  }

  // ---- defaults ----

  /** A fresh default value for the field, as Kafka's generator defines it. */
  #defaultExpr(f: FieldSpec): string {
    return defaultExpression(f, this.#m.fileName);
  }

  /** True when `x` differs from the field's default (undefined counts as the default). */
  #nonDefaultExpr(f: FieldSpec, x: string): string {
    const t = f.type;
    if (f.default === "null" || isRecords(t)) return `${x} != null`;
    if (t.kind === "array" || (t.kind === "primitive" && t.name === "bytes")) {
      return `(${x} !== undefined && (${x} === null || ${x}.length !== 0))`;
    }
    if (t.kind === "struct") {
      const typeNullable = !isEmpty(intersect(f.nullableVersions, f.versions));
      return typeNullable
        ? `(${x} !== undefined && (${x} === null || !isDefault${t.name}(${x})))`
        : `(${x} !== undefined && !isDefault${t.name}(${x}))`;
    }
    return `(${x} !== undefined && ${x} !== ${this.#defaultExpr(f)})`;
  }

  #emitDefaultFactory(code: Code, s: StructSpec): void {
    code.line();
    code.open(`function default${s.name}(): ${s.name} {`);
    const props = s.fields.map((f) => `${f.name}: ${this.#defaultExpr(f)}`);
    props.push("unknownTaggedFields: undefined");
    code.line(`return { ${props.join(", ")} };`);
    code.close();
  }

  #emitIsDefault(code: Code, s: StructSpec): void {
    code.line();
    code.open(`function isDefault${s.name}(s: ${s.name}): boolean {`);
    code.line("if (s.unknownTaggedFields !== undefined && s.unknownTaggedFields.length > 0) return false;");
    const checks = s.fields.map((f) => this.#nonDefaultExpr(f, `s.${f.name}`));
    code.line(`return !(${checks.length === 0 ? "false" : checks.join(" || ")});`);
    code.close();
  }
}

/** Emits one of two statements by a condition, folding constant conditions. */
function emitChoice(code: Code, condition: string, whenTrue: string, whenFalse: string): void {
  if (condition === "true") code.line(whenTrue);
  else if (condition === "false") code.line(whenFalse);
  else {
    code.line(`if (${condition}) ${whenTrue}`);
    code.line(`else ${whenFalse}`);
  }
}

/**
 * Emits a call of one of four writer methods, chosen by the flexible and nullable conditions:
 * names = [compact nullable, compact, classic nullable, classic].
 */
function emitPick(
  code: Code,
  flex: string,
  [nullableFlex, nullableClassic]: [string, string],
  names: [string, string, string, string],
  expr: string,
  castExpr: string,
): void {
  const call = (isFlex: boolean, isNullable: boolean) =>
    `w.${names[(isFlex ? 0 : 2) + (isNullable ? 0 : 1)]}(${isNullable ? expr : castExpr});`;
  const byNullable = (isFlex: boolean) =>
    emitChoice(code, isFlex ? nullableFlex : nullableClassic, call(isFlex, true), call(isFlex, false));
  if (flex === "true" || flex === "false") {
    byNullable(flex === "true");
    return;
  }
  code.open(`if (${flex}) {`);
  byNullable(true);
  code.reopen("} else {");
  byNullable(false);
  code.close();
}

function capitalize(s: string): string {
  return s[0].toUpperCase() + s.slice(1);
}

function hullOf(a: Versions, b: Versions): Versions {
  return { lo: Math.min(a.lo, b.lo), hi: Math.max(a.hi, b.hi) };
}

function isRecords(t: FieldType): boolean {
  return t.kind === "primitive" && t.name === "records";
}

export function tsTypeOf(t: FieldType): string {
  if (t.kind === "primitive") return SCALAR_TS[t.name];
  if (t.kind === "struct") return t.name;
  return `${tsTypeOf(t.element)}[]`;
}

/** The label used in error messages: "Metadata request", or the message name for non-API messages. */
export function apiLabel(m: MessageSpec): string {
  if (m.kind === "request" && m.name.endsWith("Request")) return `${m.name.slice(0, -7)} request`;
  if (m.kind === "response" && m.name.endsWith("Response")) return `${m.name.slice(0, -8)} response`;
  return m.name;
}

/** The default value of a field as a TypeScript expression (fresh arrays and structs each time). */
export function defaultExpression(f: FieldSpec, where: string): string {
  const t = f.type;
  const d = f.default;
  const fail = (why: string) => new Error(`${where}: field ${f.jsonName}: ${why}`);
  const checkNullable = () => {
    if (!contains(f.nullableVersions, f.versions))
      throw fail("null default but not nullable at every version");
  };
  if (t.kind === "array") {
    if (d === "null") {
      checkNullable();
      return "null";
    }
    if (d !== "") throw fail(`invalid array default ${d}`);
    return "[]";
  }
  if (t.kind === "struct") {
    if (d === "null") {
      checkNullable();
      return "null";
    }
    if (d !== "") throw fail(`invalid struct default ${d}`);
    return `default${t.name}()`;
  }
  switch (t.name) {
    case "bool":
      if (d === "" || d.toLowerCase() === "false") return "false";
      if (d.toLowerCase() === "true") return "true";
      throw fail(`invalid bool default ${d}`);
    case "int8":
    case "int16":
    case "uint16":
    case "int32":
    case "uint32": {
      const value = parseInteger(d);
      const ranges: Record<string, [number, number]> = {
        int8: [-128, 127],
        int16: [-32768, 32767],
        uint16: [0, 65535],
        int32: [-2147483648, 2147483647],
        uint32: [0, 4294967295],
      };
      const [lo, hi] = ranges[t.name];
      if (typeof value !== "bigint" || value < BigInt(lo) || value > BigInt(hi)) {
        throw fail(`invalid ${t.name} default ${d}`);
      }
      return String(value);
    }
    case "int64": {
      const value = parseInteger(d);
      if (typeof value !== "bigint") throw fail(`invalid int64 default ${d}`);
      return `${value}n`;
    }
    case "float64": {
      if (d === "") return "0";
      const value = Number(d);
      if (Number.isNaN(value) && d !== "NaN") throw fail(`invalid float64 default ${d}`);
      return String(value);
    }
    case "uuid": {
      if (d === "") return JSON.stringify("0".repeat(32));
      if (!BASE64URL.test(d)) throw fail(`invalid uuid default ${d}`);
      return JSON.stringify(Buffer.from(d, "base64url").toString("hex"));
    }
    case "string":
      if (d === "null") {
        checkNullable();
        return "null";
      }
      return JSON.stringify(d);
    case "bytes":
      if (d === "null") {
        checkNullable();
        return "null";
      }
      if (d !== "") throw fail(`invalid bytes default ${d}`);
      return "EMPTY_BUFFER";
    case "records":
      return "null";
  }
}

function parseInteger(d: string): bigint | null {
  if (d === "") return 0n;
  const negative = d.startsWith("-");
  const body = negative ? d.slice(1) : d;
  let value: bigint;
  if (/^0x[0-9a-fA-F]+$/.test(body)) value = BigInt(body);
  else if (/^[0-9]+$/.test(body)) value = BigInt(body);
  else return null;
  return negative ? -value : value;
}

export { MAX_VERSION };
