package dev.kpp.vectors;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import org.apache.kafka.common.protocol.types.ArrayOf;
import org.apache.kafka.common.protocol.types.BoundField;
import org.apache.kafka.common.protocol.types.CompactArrayOf;
import org.apache.kafka.common.protocol.types.Field;
import org.apache.kafka.common.protocol.types.Schema;
import org.apache.kafka.common.protocol.types.TaggedFields;
import org.apache.kafka.common.protocol.types.Type;

/**
 * Random wire bytes that follow one of Kafka's message {@link Schema}s: what a peer could send, written
 * independently of our codec and of the generated *Data classes (which then parse and canonicalize it).
 * Includes nulls where the schema allows them, known tagged fields (sometimes at default values),
 * unknown tagged fields, and now and then a long string, byte string or array (multi-byte lengths).
 */
final class RandomWire {
    private static final String[] ALPHABET = {"a", "z", "A", "0", "-", "_", ".", " ", "é", "ß", "日", "😀"};
    private static final int LONG_LENGTH = 130;

    private final Random rng;
    private boolean longArrayUsed;

    RandomWire(Random rng) {
        this.rng = rng;
    }

    byte[] message(Schema schema) {
        longArrayUsed = false;
        Out out = new Out();
        write(out, schema, 0);
        return out.toByteArray();
    }

    private void write(Out out, Type type, int depth) {
        if (type instanceof Schema && type.isNullable() && chance(0.3)) {
            out.write(-1);
        } else if (type instanceof Schema schema) {
            if (type.isNullable()) out.write(1);
            for (BoundField field : schema.fields()) {
                write(out, field.def.type, depth + 1);
            }
        } else if (type instanceof TaggedFields tagged) {
            writeTaggedFields(out, tagged, depth);
        } else if (type instanceof ArrayOf || type instanceof CompactArrayOf) {
            writeArray(out, type, depth);
        } else {
            writePrimitive(out, type);
        }
    }

    /** TaggedFields.fields() is public from kafka-clients 4.0; older releases only have the private field. */
    @SuppressWarnings("unchecked")
    private static Map<Integer, Field> knownTags(TaggedFields tagged) {
        try {
            java.lang.reflect.Field fields = TaggedFields.class.getDeclaredField("fields");
            fields.setAccessible(true);
            return (Map<Integer, Field>) fields.get(tagged);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot read the tags of " + tagged, e);
        }
    }

    private void writeArray(Out out, Type type, int depth) {
        boolean compact = type instanceof CompactArrayOf;
        if (type.isNullable() && chance(0.2)) {
            if (compact) out.unsignedVarint(0);
            else out.int32(-1);
            return;
        }
        int length = rng.nextInt(4);
        if (!longArrayUsed && depth <= 3 && chance(0.05)) {
            longArrayUsed = true;
            length = LONG_LENGTH + rng.nextInt(10);
        }
        if (compact) out.unsignedVarint(length + 1);
        else out.int32(length);
        Type element = type.arrayElementType().orElseThrow();
        for (int i = 0; i < length; i++) {
            write(out, element, depth + 1);
        }
    }

    private void writeTaggedFields(Out out, TaggedFields tagged, int depth) {
        Map<Integer, Field> knownFields = knownTags(tagged);
        Map<Integer, byte[]> present = new TreeMap<>();
        for (Map.Entry<Integer, Field> known : knownFields.entrySet()) {
            if (chance(0.5)) {
                Out value = new Out();
                write(value, known.getValue().type, depth + 1);
                present.put(known.getKey(), value.toByteArray());
            }
        }
        if (chance(0.3)) {
            int tag = rng.nextInt(4);
            for (int n = 1 + rng.nextInt(2); n > 0; n--) {
                while (knownFields.containsKey(tag) || present.containsKey(tag)) tag++;
                present.put(tag, randomBytes(chance(0.1) ? LONG_LENGTH : rng.nextInt(5)));
                tag += 1 + rng.nextInt(200);
            }
        }
        out.unsignedVarint(present.size());
        for (Map.Entry<Integer, byte[]> field : present.entrySet()) {
            out.unsignedVarint(field.getKey());
            out.unsignedVarint(field.getValue().length);
            out.writeBytes(field.getValue());
        }
    }

    /** Primitive types by name, so this compiles against kafka-clients releases with different constants. */
    private void writePrimitive(Out out, Type type) {
        String name = type instanceof Type.DocumentedType documented ? documented.typeName() : type.toString();
        boolean nullable = type.isNullable();
        switch (name) {
            case "BOOLEAN" -> out.write(rng.nextBoolean() ? 1 : 0);
            case "INT8" -> out.write(rng.nextInt(256));
            case "INT16", "UINT16" -> out.int16(edge(rng.nextInt(65536), 0, 0xffff, 0x7fff, 0x8000));
            case "INT32", "UINT32" -> out.int32(edge(rng.nextInt(), 0, -1, Integer.MAX_VALUE, Integer.MIN_VALUE));
            case "INT64" -> out.int64(chance(0.2) ? pick(0L, -1L, Long.MAX_VALUE, Long.MIN_VALUE) : rng.nextLong());
            case "FLOAT64" -> out.int64(Double.doubleToLongBits(
                chance(0.2) ? pick(0.0, -1.5, 1e308, Double.MIN_VALUE) : (rng.nextDouble() - 0.5) * 1e6));
            case "UUID" -> out.writeBytes(randomBytes(16));
            case "VARINT" -> out.unsignedVarint(zigZag(rng.nextInt()));
            case "STRING", "NULLABLE_STRING" -> writeSized(out, nullable, Length.INT16, randomString());
            case "COMPACT_STRING", "COMPACT_NULLABLE_STRING" ->
                writeSized(out, nullable, Length.COMPACT, randomString());
            case "BYTES", "NULLABLE_BYTES", "RECORDS", "NULLABLE_RECORDS" ->
                writeSized(out, nullable, Length.INT32, randomBytes(randomLength()));
            case "COMPACT_BYTES", "COMPACT_NULLABLE_BYTES", "COMPACT_RECORDS", "COMPACT_NULLABLE_RECORDS" ->
                writeSized(out, nullable, Length.COMPACT, randomBytes(randomLength()));
            default -> throw new IllegalArgumentException("no random generator for type " + name);
        }
    }

    private enum Length { INT16, INT32, COMPACT }

    /** A string, byte string or records field: its length prefix (or null marker) and its bytes. */
    private void writeSized(Out out, boolean nullable, Length length, byte[] value) {
        boolean isNull = nullable && chance(0.2);
        int prefix = isNull ? -1 : value.length;
        switch (length) {
            case INT16 -> out.int16(prefix);
            case INT32 -> out.int32(prefix);
            case COMPACT -> out.unsignedVarint(prefix + 1);
        }
        if (!isNull) out.writeBytes(value);
    }

    private byte[] randomString() {
        StringBuilder sb = new StringBuilder();
        int length = chance(0.05) ? LONG_LENGTH + rng.nextInt(50) : rng.nextInt(9);
        for (int i = 0; i < length; i++) {
            sb.append(ALPHABET[rng.nextInt(ALPHABET.length)]);
        }
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    private int randomLength() {
        return chance(0.05) ? LONG_LENGTH + rng.nextInt(200) : rng.nextInt(13);
    }

    private byte[] randomBytes(int length) {
        byte[] bytes = new byte[length];
        rng.nextBytes(bytes);
        return bytes;
    }

    private boolean chance(double p) {
        return rng.nextDouble() < p;
    }

    private int edge(int random, int... edges) {
        return chance(0.2) ? edges[rng.nextInt(edges.length)] : random;
    }

    @SafeVarargs
    private <T> T pick(T... values) {
        return values[rng.nextInt(values.length)];
    }

    private static int zigZag(int value) {
        return (value << 1) ^ (value >> 31);
    }

    /** A byte sink with Kafka's fixed-width big-endian and varint writers. */
    private static final class Out extends ByteArrayOutputStream {
        void int16(int value) {
            write(value >>> 8);
            write(value);
        }

        void int32(int value) {
            write(value >>> 24);
            write(value >>> 16);
            write(value >>> 8);
            write(value);
        }

        void int64(long value) {
            int32((int) (value >>> 32));
            int32((int) value);
        }

        void unsignedVarint(int value) {
            while ((value & ~0x7f) != 0) {
                write((value & 0x7f) | 0x80);
                value >>>= 7;
            }
            write(value);
        }
    }
}
