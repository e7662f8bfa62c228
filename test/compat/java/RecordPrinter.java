import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * A consumer that keeps running: prints one JSON line per record ({"partition":p,"offset":o,"value":"..."}) and
 * per rebalance event, until "stop" arrives on standard input ("pause" and "resume" pause and resume its
 * partitions, also those it is assigned later). Args: bootstrap topic group [key=value consumer properties...].
 */
public class RecordPrinter {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.put("bootstrap.servers", args[0]);
    props.put("group.id", args[2]);
    props.put("key.deserializer", StringDeserializer.class.getName());
    props.put("value.deserializer", StringDeserializer.class.getName());
    props.put("auto.offset.reset", "earliest");
    props.put("enable.auto.commit", "true");
    props.put("auto.commit.interval.ms", "300");
    for (int i = 3; i < args.length; i++) {
      String[] kv = args[i].split("=", 2);
      props.put(kv[0], kv[1]);
    }
    AtomicBoolean stop = new AtomicBoolean(false);
    AtomicBoolean paused = new AtomicBoolean(false);
    Thread input =
        new Thread(
            () -> {
              try (BufferedReader in =
                  new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                  if (line.equals("pause")) paused.set(true);
                  if (line.equals("resume")) paused.set(false);
                  if (line.equals("stop")) break;
                }
              } catch (Exception e) {
                // standard input closed: stop
              }
              stop.set(true);
            });
    input.setDaemon(true);
    input.start();
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
      consumer.subscribe(
          List.of(args[1]),
          new ConsumerRebalanceListener() {
            public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
              event("revoked", partitions);
            }

            public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
              event("assigned", partitions);
            }

            public void onPartitionsLost(Collection<TopicPartition> partitions) {
              event("lost", partitions);
            }
          });
      System.out.println("{\"event\":\"started\"}");
      System.out.flush();
      while (!stop.get()) {
        try {
          if (paused.get()) consumer.pause(consumer.assignment());
          else if (!consumer.paused().isEmpty()) consumer.resume(consumer.paused());
        } catch (IllegalStateException assignmentChanged) {
          // The group protocol "consumer" reassigns in the background, between assignment() and pause():
          // the next turn of the loop sees the new assignment.
        }
        StringBuilder out = new StringBuilder();
        for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(100))) {
          out.append("{\"partition\":")
              .append(record.partition())
              .append(",\"offset\":")
              .append(record.offset())
              .append(",\"value\":\"")
              .append(record.value())
              .append("\"}\n");
        }
        if (out.length() > 0) {
          System.out.print(out);
          System.out.flush();
        }
      }
    }
    System.out.println("{\"event\":\"stopped\"}");
    System.out.flush();
  }

  private static void event(String name, Collection<TopicPartition> partitions) {
    StringBuilder list = new StringBuilder();
    for (TopicPartition tp : partitions) {
      if (list.length() > 0) list.append(',');
      list.append(tp.partition());
    }
    System.out.println("{\"event\":\"" + name + "\",\"partitions\":[" + list + "]}");
    System.out.flush();
  }
}
