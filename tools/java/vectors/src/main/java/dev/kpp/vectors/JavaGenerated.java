package dev.kpp.vectors;

import java.io.IOException;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.util.HexFormat;
import java.util.Random;
import java.util.regex.Pattern;

import org.apache.kafka.common.message.ApiMessageType;
import org.apache.kafka.common.message.RequestHeaderData;
import org.apache.kafka.common.message.ResponseHeaderData;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.Message;
import org.apache.kafka.common.protocol.types.Schema;

/**
 * Vectors that start on the Java side: random wire bytes per Kafka's schemas ({@link RandomWire}),
 * parsed by the generated *Data class and serialized again, which gives the canonical bytes. One line per
 * case, {@code <kind> <apiKey> <version> <hex>}, or {@code ERROR <kind> <apiKey> <version> <reason>}.
 */
final class JavaGenerated {
    private static final HexFormat HEX = HexFormat.of();
    /**
     * The generated readers reject a tag that a struct defines at other versions rather than keeping it
     * as unknown; RandomWire only knows the tags of the version at hand, so such draws are retried.
     */
    private static final Pattern KNOWN_TAG_AT_OTHER_VERSIONS = Pattern.compile("Tag \\d+ is not valid for version \\d+");
    private static final int MAX_ATTEMPTS = 50;

    private JavaGenerated() {}

    static void generate(int count, long seed, Writer out) throws IOException {
        for (ApiMessageType type : ApiMessageType.values()) {
            for (short v = type.lowestSupportedVersion(); v <= type.highestSupportedVersion(true); v++) {
                emit(out, "request", type.apiKey(), v, type.requestSchemas(), count, seed);
                emit(out, "response", type.apiKey(), v, type.responseSchemas(), count, seed);
            }
        }
        for (short v = new RequestHeaderData().lowestSupportedVersion(); v <= new RequestHeaderData().highestSupportedVersion(); v++) {
            emit(out, "requestHeader", (short) 0, v, RequestHeaderData.SCHEMAS, count, seed);
        }
        for (short v = new ResponseHeaderData().lowestSupportedVersion(); v <= new ResponseHeaderData().highestSupportedVersion(); v++) {
            emit(out, "responseHeader", (short) 0, v, ResponseHeaderData.SCHEMAS, count, seed);
        }
    }

    private static void emit(Writer out, String kind, short apiKey, short version, Schema[] schemas, int count,
                             long seed) throws IOException {
        String prefix = kind + ' ' + apiKey + ' ' + version;
        if (version >= schemas.length || schemas[version] == null) {
            out.write("ERROR " + prefix + " no schema\n");
            return;
        }
        Random rng = new Random(seed * 31 + prefix.hashCode());
        RandomWire wire = new RandomWire(rng);
        for (int i = 0; i < count; i++) {
            for (int attempt = 1; ; attempt++) {
                byte[] input = wire.message(schemas[version]);
                try {
                    Message message = Reserialize.newMessage(kind, apiKey);
                    ByteBufferAccessor reader = new ByteBufferAccessor(ByteBuffer.wrap(input));
                    message.read(reader, version);
                    if (reader.remaining() != 0) {
                        throw new IllegalStateException(reader.remaining() + " trailing bytes");
                    }
                    out.write(prefix + ' ' + HEX.formatHex(Reserialize.serialize(message, version)) + '\n');
                    break;
                } catch (RuntimeException e) {
                    String reason = String.valueOf(e.getMessage());
                    if (KNOWN_TAG_AT_OTHER_VERSIONS.matcher(reason).matches() && attempt < MAX_ATTEMPTS) continue;
                    out.write("ERROR " + prefix + ' ' + e.getClass().getSimpleName() + ": " + reason.replace('\n', ' ')
                        + " input " + HEX.formatHex(input) + '\n');
                    break;
                }
            }
        }
    }
}
