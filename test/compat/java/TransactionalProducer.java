import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Writes three transactions of keyed records to a topic: "committed-a-*" (committed, with a group offset
 * committed inside the transaction), "aborted-*" (aborted after the records reached the brokers) and
 * "committed-b-*" (committed). Prints one line per finished transaction.
 *
 * Usage: java -cp <kafka-clients classpath> TransactionalProducer.java BOOTSTRAP TOPIC TRANSACTIONAL_ID GROUP COUNT
 */
public class TransactionalProducer {
  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String topic = args[1];
    String transactionalId = args[2];
    String group = args[3];
    int count = Integer.parseInt(args[4]);

    Properties properties = new Properties();
    properties.put("bootstrap.servers", bootstrap);
    properties.put("transactional.id", transactionalId);
    properties.put("acks", "all");
    properties.put("compression.type", "lz4");
    properties.put("key.serializer", StringSerializer.class.getName());
    properties.put("value.serializer", StringSerializer.class.getName());

    try (KafkaProducer<String, String> producer = new KafkaProducer<>(properties)) {
      producer.initTransactions();

      producer.beginTransaction();
      send(producer, topic, "committed-a", count);
      producer.sendOffsetsToTransaction(
          java.util.Map.of(new TopicPartition(topic, 0), new OffsetAndMetadata(1)),
          new ConsumerGroupMetadata(group));
      producer.commitTransaction();
      System.out.println("committed committed-a");

      producer.beginTransaction();
      send(producer, topic, "aborted", count);
      producer.flush();
      producer.abortTransaction();
      System.out.println("aborted aborted");

      producer.beginTransaction();
      send(producer, topic, "committed-b", count);
      producer.commitTransaction();
      System.out.println("committed committed-b");
    }
  }

  private static void send(KafkaProducer<String, String> producer, String topic, String label, int count)
      throws Exception {
    for (int i = 0; i < count; i++) {
      producer.send(new ProducerRecord<>(topic, "key-" + (i % 4), label + "-" + i)).get();
    }
  }
}
