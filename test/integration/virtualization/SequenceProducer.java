import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Sends COUNT records valued "s-<i>" with null keys through a Java producer with its defaults (idempotence on,
 * acks=all, 5 requests in flight, sticky partitioner), at most RATE records per second. Prints "acked <n>"
 * every 5000 acknowledgements, then "done <acked> <errors>"; writes one "<i> <partition> <offset>" line per
 * acknowledged record to ACKED_FILE.
 *
 * Usage: java -cp <kafka-clients classpath> SequenceProducer.java BOOTSTRAP TOPIC COUNT RATE ACKED_FILE
 */
public class SequenceProducer {
  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String topic = args[1];
    int count = Integer.parseInt(args[2]);
    int rate = Integer.parseInt(args[3]);
    Path ackedFile = Path.of(args[4]);

    Properties properties = new Properties();
    properties.put("bootstrap.servers", bootstrap);
    properties.put("key.serializer", StringSerializer.class.getName());
    properties.put("value.serializer", StringSerializer.class.getName());

    ConcurrentLinkedQueue<String> acked = new ConcurrentLinkedQueue<>();
    AtomicLong ackedCount = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    long started = System.nanoTime();
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(properties)) {
      for (int i = 0; i < count; i++) {
        long due = started + (long) i * 1_000_000_000L / rate;
        long wait = due - System.nanoTime();
        if (wait > 0) Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
        final int index = i;
        producer.send(
            new ProducerRecord<>(topic, null, "s-" + i),
            (metadata, exception) -> {
              if (exception != null) {
                if (errors.incrementAndGet() <= 5) System.err.println("error on s-" + index + ": " + exception);
                return;
              }
              acked.add(index + " " + metadata.partition() + " " + metadata.offset());
              long n = ackedCount.incrementAndGet();
              if (n % 5000 == 0) System.out.println("acked " + n);
            });
      }
      producer.flush();
    }
    try (PrintWriter out = new PrintWriter(Files.newBufferedWriter(ackedFile))) {
      for (String line : acked) out.println(line);
    }
    System.out.println("done " + ackedCount.get() + " " + errors.get());
  }
}
