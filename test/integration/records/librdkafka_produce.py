"""Produces the sample records with librdkafka (confluent-kafka) using one compression codec.

Usage: python3 librdkafka_produce.py BOOTSTRAP TOPIC CODEC COUNT
Keep sample_record in step with test/fixtures/records/sample-records.ts.
"""

import sys

from confluent_kafka import Producer


def sample_record(index):
    key = None if index % 7 == 3 else f"key-{index}"
    value = f"value-{index}-" + "lorem ipsum dolor sit amet " * ((index % 5) + 1) + "ü€"
    headers = [("trace", f"t{index}".encode()), ("ключ", b"" if index % 2 == 0 else None)]
    return key, value, headers


def main():
    bootstrap, topic, codec, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "compression.type": codec,
            "linger.ms": 200,
            "batch.num.messages": 100000,
            "enable.idempotence": True,
            "message.timeout.ms": 60000,
        }
    )
    failures = []

    def on_delivery(error, _message):
        if error is not None:
            failures.append(str(error))

    for index in range(count):
        key, value, headers = sample_record(index)
        producer.produce(
            topic,
            key=None if key is None else key.encode(),
            value=value.encode(),
            headers=headers,
            partition=0,
            on_delivery=on_delivery,
        )
        producer.poll(0)
    remaining = producer.flush(60)
    if remaining or failures:
        print(f"undelivered={remaining} failures={failures[:3]}", file=sys.stderr)
        sys.exit(1)
    print(f"produced {count} records with {codec}")


if __name__ == "__main__":
    main()
