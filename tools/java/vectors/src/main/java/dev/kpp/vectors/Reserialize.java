package dev.kpp.vectors;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

import org.apache.kafka.common.message.ApiMessageType;
import org.apache.kafka.common.message.RequestHeaderData;
import org.apache.kafka.common.message.ResponseHeaderData;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.Message;
import org.apache.kafka.common.protocol.ObjectSerializationCache;

/**
 * Reads one case per stdin line: {@code <kind> <apiKey> <version> <hex>} where kind is
 * {@code request | response | requestHeader | responseHeader} (for headers, version is the header
 * version and apiKey is ignored). Parses the bytes with Kafka's generated message class, requires
 * every byte to be consumed, re-serializes with the same class and writes one line per input line:
 * {@code <kind> <apiKey> <version> <hex>} or {@code ERROR <reason>}.
 *
 * <p>With {@code --describe}, a successful line is followed by a tab and the message's toString().
 * With {@code --json}, it is followed by a tab and the message as Kafka's generated JsonConverter writes
 * it (records fields as {@code <name>SizeInBytes}).
 * With {@code --versions}, no input is read; prints {@code <apiKey> <name> <min> <max> <maxStable>} per API
 * ({@code max} includes a latest version marked unstable).
 * With {@code --generate <count> <seed>}, no input is read; prints Java-generated cases (see
 * {@link JavaGenerated}).
 */
public final class Reserialize {
    private static final HexFormat HEX = HexFormat.of();

    enum Detail { NONE, TO_STRING, JSON }

    private Reserialize() {}

    public static void main(String[] args) throws IOException {
        if (args.length == 3 && args[0].equals("--generate")) {
            BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), 1 << 20);
            JavaGenerated.generate(Integer.parseInt(args[1]), Long.parseLong(args[2]), out);
            out.flush();
            return;
        }
        Detail detail = Detail.NONE;
        for (String arg : args) {
            switch (arg) {
                case "--describe" -> detail = Detail.TO_STRING;
                case "--json" -> detail = Detail.JSON;
                case "--versions" -> {
                    printVersions();
                    return;
                }
                default -> {
                    System.err.println("unknown argument: " + arg);
                    System.exit(2);
                }
            }
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII), 1 << 20);
        BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), 1 << 20);
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) {
                continue;
            }
            out.write(processLine(line, detail));
            out.write('\n');
        }
        out.flush();
    }

    private static void printVersions() {
        StringBuilder sb = new StringBuilder();
        for (ApiMessageType type : ApiMessageType.values()) {
            sb.append(type.apiKey()).append(' ').append(type.name).append(' ')
                .append(type.lowestSupportedVersion()).append(' ')
                .append(type.highestSupportedVersion(true)).append(' ')
                .append(type.highestSupportedVersion(false)).append('\n');
        }
        System.out.print(sb);
        System.out.flush();
    }

    static String processLine(String line, Detail detail) {
        String[] parts = line.strip().split(" ", -1);
        if (parts.length == 3) {
            parts = new String[] {parts[0], parts[1], parts[2], ""};
        }
        if (parts.length != 4) {
            return "ERROR malformed line: expected '<kind> <apiKey> <version> <hex>'";
        }
        try {
            String kind = parts[0];
            short apiKey = Short.parseShort(parts[1]);
            short version = Short.parseShort(parts[2]);
            byte[] input = HEX.parseHex(parts[3]);
            Message message = newMessage(kind, apiKey);
            if (version < message.lowestSupportedVersion() || version > message.highestSupportedVersion()) {
                return "ERROR version " + version + " outside " + message.lowestSupportedVersion() + ".."
                    + message.highestSupportedVersion() + " for " + message.getClass().getSimpleName();
            }
            ByteBufferAccessor reader = new ByteBufferAccessor(ByteBuffer.wrap(input));
            message.read(reader, version);
            if (reader.remaining() != 0) {
                return "ERROR " + reader.remaining() + " trailing bytes after " + message.getClass().getSimpleName()
                    + " v" + version;
            }
            byte[] output = serialize(message, version);
            String result = kind + ' ' + apiKey + ' ' + version + ' ' + HEX.formatHex(output);
            return switch (detail) {
                case NONE -> result;
                case TO_STRING -> result + '\t' + oneLine(message.toString());
                case JSON -> result + '\t' + toJson(message, version);
            };
        } catch (Throwable e) {
            Throwable cause = e instanceof InvocationTargetException ? e.getCause() : e;
            return "ERROR " + oneLine(cause.getClass().getSimpleName() + ": " + cause.getMessage());
        }
    }

    static Message newMessage(String kind, short apiKey) {
        return switch (kind) {
            case "request" -> ApiMessageType.fromApiKey(apiKey).newRequest();
            case "response" -> ApiMessageType.fromApiKey(apiKey).newResponse();
            case "requestHeader" -> new RequestHeaderData();
            case "responseHeader" -> new ResponseHeaderData();
            default -> throw new IllegalArgumentException("unknown kind '" + kind + "'");
        };
    }

    static byte[] serialize(Message message, short version) {
        ObjectSerializationCache cache = new ObjectSerializationCache();
        int size = message.size(cache, version);
        ByteBuffer buffer = ByteBuffer.allocate(size);
        message.write(new ByteBufferAccessor(buffer), cache, version);
        if (buffer.position() != size) {
            throw new IllegalStateException("wrote " + buffer.position() + " bytes but size() said " + size);
        }
        return buffer.array();
    }

    private static String toJson(Message message, short version) throws ReflectiveOperationException {
        Class<?> converter = Class.forName(message.getClass().getName() + "JsonConverter");
        Method write = converter.getMethod("write", message.getClass(), short.class, boolean.class);
        return write.invoke(null, message, version, false).toString();
    }

    private static String oneLine(String text) {
        return text.replace('\n', ' ').replace('\r', ' ');
    }
}
