import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * One consumer-group member and one idempotent producer (enable.idempotence=true, acks=all, unlimited
 * retries, 5 requests in flight), both through BOOTSTRAP, for the fault-injection suite.
 *
 * The consumer joins GROUP and waits for its assignment; then the producer sends COUNT records valued "s-<i>"
 * with null keys (sticky partitioner), at most RATE per second. The consumer keeps consuming, committing
 * synchronously after every poll, until every acknowledged record has been seen and then QUIET_MS more (to
 * catch late duplicates), or until DRAIN_MS after the producer finished.
 *
 * stdout: "ready", "acked <n>" every 100 acknowledgements, "consumed <n>" every 500 records, "event ..." lines
 * (rebalances, commit failures, the first producer errors), "retries <n>" (the producer's record-retry-total),
 * "produced <acked> <errors>", "done".
 * Files in OUT_DIR: acked.txt "<i> <partition> <offset>", errors.txt "<i> <exception>",
 * consumed.txt "<partition> <offset> <i>" in delivery order.
 *
 * REQUEST_TIMEOUT_MS is both clients' request.timeout.ms.
 *
 * Usage: java -cp <kafka-clients classpath> FaultWorkload.java BOOTSTRAP TOPIC GROUP COUNT RATE OUT_DIR QUIET_MS
 * DRAIN_MS REQUEST_TIMEOUT_MS
 */
public class FaultWorkload {
  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String topic = args[1];
    String group = args[2];
    int count = Integer.parseInt(args[3]);
    int rate = Integer.parseInt(args[4]);
    Path outDir = Path.of(args[5]);
    long quietMs = Long.parseLong(args[6]);
    long drainMs = Long.parseLong(args[7]);
    String requestTimeoutMs = args[8];

    ConcurrentLinkedQueue<String> acked = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
    Set<String> ackedKeys = java.util.concurrent.ConcurrentHashMap.newKeySet();
    AtomicLong ackedCount = new AtomicLong();
    AtomicLong errorCount = new AtomicLong();
    CountDownLatch ready = new CountDownLatch(1);
    CountDownLatch produced = new CountDownLatch(1);
    List<String> consumed = new ArrayList<>();
    Throwable[] consumerFailure = new Throwable[1];

    Thread consumerThread =
        new Thread(
            () -> {
              try {
                consume(
                    bootstrap,
                    topic,
                    group,
                    requestTimeoutMs,
                    ready,
                    produced,
                    ackedKeys,
                    consumed,
                    quietMs,
                    drainMs);
              } catch (Throwable t) {
                consumerFailure[0] = t;
                ready.countDown();
              }
            },
            "consumer");
    consumerThread.start();
    ready.await();
    if (consumerFailure[0] != null) throw new RuntimeException("consumer failed", consumerFailure[0]);
    System.out.println("ready");

    Properties properties = new Properties();
    properties.put("bootstrap.servers", bootstrap);
    properties.put("client.id", "fault-producer");
    properties.put("key.serializer", StringSerializer.class.getName());
    properties.put("value.serializer", StringSerializer.class.getName());
    properties.put("enable.idempotence", "true");
    properties.put("acks", "all");
    properties.put("retries", String.valueOf(Integer.MAX_VALUE));
    properties.put("max.in.flight.requests.per.connection", "5");
    properties.put("delivery.timeout.ms", "120000");
    properties.put("request.timeout.ms", requestTimeoutMs);
    properties.put("retry.backoff.ms", "100");
    properties.put("reconnect.backoff.ms", "50");
    properties.put("reconnect.backoff.max.ms", "1000");
    properties.put("linger.ms", "5");
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
                errors.add(index + " " + exception.toString().replace('\n', ' '));
                if (errorCount.incrementAndGet() <= 5) System.out.println("event producer-error s-" + index + " " + exception);
                return;
              }
              acked.add(index + " " + metadata.partition() + " " + metadata.offset());
              ackedKeys.add(metadata.partition() + " " + index);
              long n = ackedCount.incrementAndGet();
              if (n % 100 == 0) System.out.println("acked " + n);
            });
      }
      producer.flush();
      double retries = 0;
      for (var entry : producer.metrics().entrySet()) {
        var name = entry.getKey();
        if (name.group().equals("producer-metrics") && name.name().equals("record-retry-total")) {
          retries = ((Number) entry.getValue().metricValue()).doubleValue();
        }
      }
      System.out.println("retries " + (long) retries);
    }
    System.out.println("produced " + ackedCount.get() + " " + errorCount.get());
    write(outDir.resolve("acked.txt"), acked);
    write(outDir.resolve("errors.txt"), errors);
    produced.countDown();
    consumerThread.join();
    if (consumerFailure[0] != null) throw new RuntimeException("consumer failed", consumerFailure[0]);
    write(outDir.resolve("consumed.txt"), consumed);
    System.out.println("done");
  }

  static void consume(
      String bootstrap,
      String topic,
      String group,
      String requestTimeoutMs,
      CountDownLatch ready,
      CountDownLatch produced,
      Set<String> ackedKeys,
      List<String> consumed,
      long quietMs,
      long drainMs)
      throws Exception {
    Properties properties = new Properties();
    properties.put("bootstrap.servers", bootstrap);
    properties.put("client.id", "fault-consumer");
    properties.put("group.id", group);
    properties.put("key.deserializer", StringDeserializer.class.getName());
    properties.put("value.deserializer", StringDeserializer.class.getName());
    properties.put("auto.offset.reset", "earliest");
    properties.put("enable.auto.commit", "false");
    properties.put("fetch.max.wait.ms", "200");
    properties.put("request.timeout.ms", requestTimeoutMs);
    properties.put("reconnect.backoff.ms", "50");
    properties.put("reconnect.backoff.max.ms", "1000");
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(properties)) {
      consumer.subscribe(
          List.of(topic),
          new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
              if (!partitions.isEmpty()) System.out.println("event revoked " + partitions.size());
            }

            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
              System.out.println("event assigned " + partitions.size());
            }

            @Override
            public void onPartitionsLost(Collection<TopicPartition> partitions) {
              System.out.println("event lost " + partitions.size());
            }
          });
      long readyDeadline = System.currentTimeMillis() + 90_000;
      Set<String> seen = new HashSet<>();
      long lastNew = System.currentTimeMillis();
      long producedAt = 0;
      long allSeenAt = 0;
      while (true) {
        ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
        if (ready.getCount() > 0) {
          if (!consumer.assignment().isEmpty()) ready.countDown();
          else if (System.currentTimeMillis() > readyDeadline) throw new RuntimeException("no assignment after 90 s");
        }
        for (ConsumerRecord<String, String> record : records) {
          String index = record.value().substring(2);
          consumed.add(record.partition() + " " + record.offset() + " " + index);
          seen.add(record.partition() + " " + index);
          if (consumed.size() % 500 == 0) System.out.println("consumed " + consumed.size());
        }
        if (!records.isEmpty()) {
          lastNew = System.currentTimeMillis();
          try {
            consumer.commitSync(Duration.ofSeconds(30));
          } catch (Exception e) {
            System.out.println("event commit-failed " + e.toString().replace('\n', ' '));
          }
        }
        long now = System.currentTimeMillis();
        if (produced.getCount() == 0) {
          if (producedAt == 0) producedAt = now;
          if (allSeenAt == 0 && seen.containsAll(ackedKeys)) allSeenAt = now;
          if (allSeenAt > 0 && now - allSeenAt >= quietMs && now - lastNew >= quietMs / 2) break;
          if (now - producedAt >= drainMs) {
            System.out.println("event drain-timeout");
            break;
          }
        }
      }
    }
  }

  static void write(Path file, Collection<String> lines) throws Exception {
    try (PrintWriter out = new PrintWriter(Files.newBufferedWriter(file))) {
      for (String line : lines) out.println(line);
    }
  }
}
