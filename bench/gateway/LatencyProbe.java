import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * End-to-end latency at a fixed rate: a producer (acks=1, linger.ms=0) sends RATE records per second, each
 * carrying its sequence number and System.nanoTime() at send; a consumer in the same JVM, assigned every
 * partition of TOPIC at its end, records now - send time for each record. The first WARMUP_SECONDS of records
 * are sent but not counted. Prints one line:
 *
 * <pre>result sent=N received=M measured=K errors=E rate=R p50=A p99=B p999=C max=D avg=F</pre>
 *
 * with latencies in milliseconds (microsecond resolution) and rate the achieved send rate in records/s. With
 * KPP_BENCH_TIMELINE set, also prints the p50 and max of each measured second to stderr.
 *
 * <p>Usage: java -cp <kafka-clients classpath> LatencyProbe.java BOOTSTRAP TOPIC RATE WARMUP_SECONDS SECONDS
 * RECORD_SIZE FETCH_MAX_WAIT_MS
 */
public class LatencyProbe {
  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String topic = args[1];
    int rate = Integer.parseInt(args[2]);
    double warmupSeconds = Double.parseDouble(args[3]);
    double seconds = Double.parseDouble(args[4]);
    int recordSize = Math.max(16, Integer.parseInt(args[5]));
    int fetchMaxWaitMs = Integer.parseInt(args[6]);
    int warmup = (int) Math.round(rate * warmupSeconds);
    int measuredCount = (int) Math.round(rate * seconds);
    int total = warmup + measuredCount;

    long[] latencies = new long[measuredCount];
    Arrays.fill(latencies, -1);
    AtomicLong received = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    CountDownLatch positioned = new CountDownLatch(1);
    CountDownLatch allReceived = new CountDownLatch(1);

    Properties consumerProperties = new Properties();
    consumerProperties.put("bootstrap.servers", bootstrap);
    consumerProperties.put("key.deserializer", ByteArrayDeserializer.class.getName());
    consumerProperties.put("value.deserializer", ByteArrayDeserializer.class.getName());
    consumerProperties.put("enable.auto.commit", "false");
    consumerProperties.put("fetch.min.bytes", "1");
    consumerProperties.put("fetch.max.wait.ms", String.valueOf(fetchMaxWaitMs));
    consumerProperties.put("auto.offset.reset", "latest");

    Thread consumerThread =
        new Thread(
            () -> {
              try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProperties)) {
                List<TopicPartition> partitions = new ArrayList<>();
                for (PartitionInfo info : consumer.partitionsFor(topic, Duration.ofSeconds(30))) {
                  partitions.add(new TopicPartition(topic, info.partition()));
                }
                consumer.assign(partitions);
                consumer.seekToEnd(partitions);
                for (TopicPartition partition : partitions) consumer.position(partition, Duration.ofSeconds(30));
                positioned.countDown();
                while (!stop) {
                  ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(100));
                  long now = System.nanoTime();
                  for (ConsumerRecord<byte[], byte[]> record : records) {
                    ByteBuffer value = ByteBuffer.wrap(record.value());
                    int sequence = (int) value.getLong(0);
                    long sentAt = value.getLong(8);
                    if (sequence >= warmup && sequence < total) latencies[sequence - warmup] = now - sentAt;
                    if (received.incrementAndGet() >= total) allReceived.countDown();
                  }
                }
              } catch (Exception e) {
                System.err.println("consumer failed: " + e);
                e.printStackTrace();
                positioned.countDown();
                allReceived.countDown();
              }
            },
            "latency-consumer");
    consumerThread.start();
    positioned.await();

    Properties producerProperties = new Properties();
    producerProperties.put("bootstrap.servers", bootstrap);
    producerProperties.put("key.serializer", ByteArraySerializer.class.getName());
    producerProperties.put("value.serializer", ByteArraySerializer.class.getName());
    producerProperties.put("acks", "1");
    producerProperties.put("linger.ms", "0");
    producerProperties.put("enable.idempotence", "false");

    long sendNanos;
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerProperties)) {
      producer.partitionsFor(topic);
      long started = System.nanoTime();
      double interval = 1_000_000_000.0 / rate;
      for (int i = 0; i < total; i++) {
        long due = started + (long) (i * interval);
        long wait;
        while ((wait = due - System.nanoTime()) > 0) LockSupport.parkNanos(wait);
        byte[] value = new byte[recordSize];
        ByteBuffer buffer = ByteBuffer.wrap(value);
        buffer.putLong(0, i);
        buffer.putLong(8, System.nanoTime());
        producer.send(
            new ProducerRecord<>(topic, null, value),
            (metadata, exception) -> {
              if (exception != null && errors.incrementAndGet() <= 5) {
                System.err.println("send failed: " + exception);
              }
            });
      }
      sendNanos = System.nanoTime() - started;
      producer.flush();
    }
    allReceived.await(Math.max(15, (long) seconds), java.util.concurrent.TimeUnit.SECONDS);
    stop = true;
    consumerThread.join(10_000);

    if (System.getenv("KPP_BENCH_TIMELINE") != null) {
      for (int second = 0; second * rate < measuredCount; second++) {
        long[] slice = Arrays.stream(latencies, second * rate, Math.min(measuredCount, (second + 1) * rate)).filter(l -> l >= 0).sorted().toArray();
        System.err.printf("second %d: p50 %.3f max %.3f%n", second, percentile(slice, 0.5), slice.length == 0 ? Double.NaN : slice[slice.length - 1] / 1e6);
      }
    }
    long[] measured = Arrays.stream(latencies).filter(l -> l >= 0).sorted().toArray();
    double sum = 0;
    for (long l : measured) sum += l;
    System.out.printf(
        "result sent=%d received=%d measured=%d errors=%d rate=%.1f p50=%.3f p99=%.3f p999=%.3f max=%.3f avg=%.3f%n",
        total,
        received.get(),
        measured.length,
        errors.get(),
        total / (sendNanos / 1e9),
        percentile(measured, 0.50),
        percentile(measured, 0.99),
        percentile(measured, 0.999),
        measured.length == 0 ? Double.NaN : measured[measured.length - 1] / 1e6,
        measured.length == 0 ? Double.NaN : sum / measured.length / 1e6);
    System.exit(measured.length == measuredCount && errors.get() == 0 ? 0 : 2);
  }

  private static volatile boolean stop;

  /** Nearest-rank percentile in milliseconds. */
  private static double percentile(long[] sorted, double q) {
    if (sorted.length == 0) return Double.NaN;
    int rank = (int) Math.ceil(q * sorted.length);
    return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))] / 1e6;
  }
}
