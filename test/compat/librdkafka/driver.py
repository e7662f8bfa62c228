#!/usr/bin/env python3
"""librdkafka (confluent-kafka) driver for the compatibility suite.

Every subcommand prints JSON on stdout: one object for one-shot commands, one object per line for `member`.
Failures print {"error": ...} and exit with status 1; nothing here is meant to hang (every wait is bounded).
"""

import argparse
import json
import signal
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    OffsetSpec,
)
from confluent_kafka._model import ConsumerGroupTopicPartitions


def emit(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def common_config(args):
    return {
        "bootstrap.servers": args.bootstrap,
        "client.id": args.client_id,
        "socket.timeout.ms": 10000,
        "broker.address.family": "v4",
    }


def admin_client(args):
    return AdminClient(common_config(args))


def wait_all(futures, timeout):
    return {key: future.result(timeout=timeout) for key, future in futures.items()}


def cmd_metadata(args):
    admin = admin_client(args)
    metadata = admin.list_topics(timeout=args.timeout)
    brokers = sorted(
        ({"id": b.id, "host": b.host, "port": b.port} for b in metadata.brokers.values()), key=lambda b: b["id"]
    )
    topics = {}
    for name, topic in metadata.topics.items():
        if args.topic and name != args.topic:
            continue
        topics[name] = {
            "error": topic.error.name() if topic.error else None,
            "partitions": {
                str(p.id): {"leader": p.leader, "replicas": list(p.replicas), "isrs": list(p.isrs)}
                for p in topic.partitions.values()
            },
        }
    cluster = admin.describe_cluster(request_timeout=args.timeout).result(timeout=args.timeout)
    emit(
        {
            "brokers": brokers,
            "topics": topics,
            "controller_id": metadata.controller_id,
            "cluster": {
                "id": cluster.cluster_id,
                "controller": cluster.controller.id if cluster.controller else None,
                "nodes": sorted(({"id": n.id, "host": n.host, "port": n.port} for n in cluster.nodes), key=lambda n: n["id"]),
            },
        }
    )


def cmd_create_topic(args):
    admin = admin_client(args)
    topic = NewTopic(args.topic, num_partitions=args.partitions, replication_factor=args.replication_factor)
    wait_all(admin.create_topics([topic], operation_timeout=args.timeout, request_timeout=args.timeout), args.timeout)
    deadline = time.monotonic() + args.timeout
    while True:
        metadata = admin.list_topics(topic=args.topic, timeout=args.timeout).topics.get(args.topic)
        ready = metadata is not None and metadata.error is None and len(metadata.partitions) == args.partitions
        if ready and all(p.leader >= 0 for p in metadata.partitions.values()):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic {args.topic} has no leaders after {args.timeout}s")
        time.sleep(0.2)
    emit({"created": args.topic, "partitions": len(metadata.partitions)})


def cmd_delete_topic(args):
    admin = admin_client(args)
    wait_all(admin.delete_topics([args.topic], operation_timeout=args.timeout, request_timeout=args.timeout), args.timeout)
    deadline = time.monotonic() + args.timeout
    while args.topic in admin.list_topics(timeout=args.timeout).topics:
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic {args.topic} still listed after {args.timeout}s")
        time.sleep(0.2)
    emit({"deleted": args.topic})


def cmd_list_topics(args):
    emit({"topics": sorted(t for t in admin_client(args).list_topics(timeout=args.timeout).topics if not t.startswith("__"))})


def cmd_produce(args):
    config = common_config(args)
    config.update(
        {
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": args.compression,
            "linger.ms": 5,
            "message.timeout.ms": int(args.timeout * 1000),
        }
    )
    producer = Producer(config)
    delivered = []
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
            return
        delivered.append(
            {"key": msg.key().decode(), "value": msg.value().decode(), "partition": msg.partition(), "offset": msg.offset()}
        )

    for i in range(args.start, args.start + args.count):
        extra = {}
        if args.explicit_partitions:
            # Record i goes to partition i mod N, valued "<tag>:<partition>:<sequence within that partition>".
            partition, sequence = i % args.explicit_partitions, i // args.explicit_partitions
            key = value = f"{args.tag}:{partition}:{sequence}"
            extra["partition"] = partition
        else:
            key = f"key-{i % args.keys}"
            value = f"{args.tag}-{i}"
        while True:
            try:
                producer.produce(args.topic, key=key, value=value, on_delivery=on_delivery, **extra)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    remaining = producer.flush(args.timeout)
    if remaining:
        errors.append(f"{remaining} records not delivered within {args.timeout}s")
    emit({"delivered": delivered, "errors": errors, "compression": args.compression})
    if errors:
        sys.exit(1)


def message_json(msg, headers=False):
    out = {
        "key": msg.key().decode() if msg.key() is not None else None,
        "value": msg.value().decode() if msg.value() is not None else None,
        "partition": msg.partition(),
        "offset": msg.offset(),
    }
    if headers:
        out["headers"] = [[name, value.decode() if value is not None else None] for name, value in msg.headers() or []]
    return out


def start_offset(spelled):
    if spelled == "earliest":
        return OFFSET_BEGINNING
    if spelled == "latest":
        return OFFSET_END
    return int(spelled)


def consumer_config(args):
    config = common_config(args)
    config.update(
        {
            "group.id": args.group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 1000,
        }
    )
    if args.group_protocol == "consumer":
        config["group.protocol"] = "consumer"
        del config["session.timeout.ms"]
        del config["heartbeat.interval.ms"]
    return config


def cmd_consume(args):
    """Consumes until `--max` records (then stops), or `--expect` records plus a quiet `--settle` period, or the timeout.

    `--topic` may be given several times: the one group member subscribes to them all. Every record reports its topic.
    With `--partition` the consumer is assigned that one partition of the first topic from `--offset` instead of
    joining the group.
    """
    consumer = Consumer(consumer_config(args))
    if args.partition is not None:
        consumer.assign([TopicPartition(args.topic, args.partition, start_offset(args.offset))])
    else:
        consumer.subscribe(args.topics)
    records = []
    deadline = time.monotonic() + args.timeout
    settle_until = None
    try:
        while time.monotonic() < deadline:
            if args.max is not None and len(records) >= args.max:
                break
            if settle_until is not None and time.monotonic() >= settle_until:
                break
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                if msg.error().fatal():
                    raise KafkaException(msg.error())
                sys.stderr.write(f"consumer: {msg.error()}\n")
                continue
            records.append({"topic": msg.topic(), **message_json(msg, args.headers)})
            if args.commit:
                consumer.commit(message=msg, asynchronous=False)
            if args.expect is not None and len(records) >= args.expect and settle_until is None:
                settle_until = time.monotonic() + args.settle
    finally:
        consumer.close()
    emit({"records": records})


def cmd_member(args):
    """A long-lived group member that streams its assignments and records as JSON lines until SIGTERM."""
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))

    def on_assign(consumer, partitions):
        emit({"event": "assigned", "partitions": sorted(p.partition for p in partitions)})

    def on_revoke(consumer, partitions):
        emit({"event": "revoked", "partitions": sorted(p.partition for p in partitions)})

    consumer = Consumer(consumer_config(args))
    consumer.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke)
    emit({"event": "started"})
    deadline = time.monotonic() + args.timeout
    try:
        while not stopping and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                emit({"event": "error" if msg.error().fatal() else "warning", "error": str(msg.error())})
                continue
            try:
                consumer.commit(message=msg, asynchronous=False)
            except KafkaException as error:
                # A commit can lose a race with a rebalance; the record then goes, uncounted, to its next owner.
                emit({"event": "warning", "error": f"commit: {error}"})
                continue
            emit({"event": "record", **message_json(msg)})
    finally:
        consumer.close()
        emit({"event": "closed"})


def cmd_describe_group(args):
    admin = admin_client(args)
    description = admin.describe_consumer_groups([args.group], request_timeout=args.timeout)[args.group].result(
        timeout=args.timeout
    )
    committed_result = admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(args.group)], request_timeout=args.timeout
    )[args.group].result(timeout=args.timeout)
    committed = {(tp.topic, tp.partition): tp.offset for tp in committed_result.topic_partitions}
    latest_requests = {TopicPartition(topic, partition): OffsetSpec.latest() for topic, partition in committed}
    latest = {}
    if latest_requests:
        for tp, future in admin.list_offsets(latest_requests, request_timeout=args.timeout).items():
            latest[(tp.topic, tp.partition)] = future.result(timeout=args.timeout).offset
    partitions = [
        {
            "topic": topic,
            "partition": partition,
            "committed": offset,
            "end": latest[(topic, partition)],
            "lag": latest[(topic, partition)] - offset if offset >= 0 else None,
        }
        for (topic, partition), offset in sorted(committed.items())
    ]
    emit(
        {
            "group": description.group_id,
            "state": str(description.state.name),
            "type": str(description.type.name) if getattr(description, "type", None) is not None else None,
            "coordinator": {"id": description.coordinator.id, "host": description.coordinator.host, "port": description.coordinator.port},
            "members": [
                {
                    "client_id": m.client_id,
                    "partitions": sorted(tp.partition for tp in m.assignment.topic_partitions) if m.assignment else [],
                }
                for m in description.members
            ],
            "partitions": partitions,
            "total_lag": sum(p["lag"] or 0 for p in partitions),
        }
    )


def cmd_delete_group(args):
    admin = admin_client(args)
    wait_all(admin.delete_consumer_groups([args.group], request_timeout=args.timeout), args.timeout)
    emit({"deleted": args.group})


def topic_configs(admin, topic, timeout):
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin.describe_configs([resource], request_timeout=timeout)[resource].result(timeout=timeout)
    return {name: entry.value for name, entry in entries.items()}


def cmd_describe_config(args):
    emit({"configs": topic_configs(admin_client(args), args.topic, args.timeout)})


def cmd_alter_config(args):
    admin = admin_client(args)
    entries = []
    for assignment in args.set:
        name, value = assignment.split("=", 1)
        entries.append(ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET))
    resource = ConfigResource(ConfigResource.Type.TOPIC, args.topic, incremental_configs=entries)
    wait_all(admin.incremental_alter_configs([resource], request_timeout=args.timeout), args.timeout)
    emit({"configs": topic_configs(admin, args.topic, args.timeout)})


def parser():
    root = argparse.ArgumentParser(description=__doc__)
    root.add_argument("--bootstrap", required=True)
    root.add_argument("--client-id", default="kpp-compat-librdkafka")
    root.add_argument("--timeout", type=float, default=30.0, help="bound on every wait, in seconds")
    sub = root.add_subparsers(dest="command", required=True)

    sub.add_parser("metadata").add_argument("--topic")
    sub.add_parser("list-topics")

    create = sub.add_parser("create-topic")
    create.add_argument("--topic", required=True)
    create.add_argument("--partitions", type=int, default=3)
    create.add_argument("--replication-factor", type=int, default=3)

    for name in ("delete-topic", "describe-config"):
        sub.add_parser(name).add_argument("--topic", required=True)

    alter = sub.add_parser("alter-config")
    alter.add_argument("--topic", required=True)
    alter.add_argument("--set", action="append", required=True, metavar="NAME=VALUE")

    produce = sub.add_parser("produce")
    produce.add_argument("--topic", required=True)
    produce.add_argument("--count", type=int, required=True)
    produce.add_argument("--start", type=int, default=0)
    produce.add_argument("--keys", type=int, default=10)
    produce.add_argument("--tag", default="v")
    produce.add_argument("--compression", default="none", choices=["none", "gzip", "snappy", "lz4", "zstd"])
    produce.add_argument(
        "--explicit-partitions", type=int, default=0, help="send record i to partition i mod N, valued <tag>:<partition>:<sequence>"
    )

    for name in ("consume", "member"):
        consume = sub.add_parser(name)
        if name == "consume":
            # Repeatable: `consume --topic A --topic B` subscribes one member to both (normalised in main).
            consume.add_argument("--topic", dest="topics", action="append", required=True)
        else:
            consume.add_argument("--topic", required=True)
        consume.add_argument("--group", required=True)
        consume.add_argument("--group-protocol", default="classic", choices=["classic", "consumer"])
        if name == "consume":
            consume.add_argument("--max", type=int)
            consume.add_argument("--expect", type=int)
            consume.add_argument("--settle", type=float, default=2.0)
            consume.add_argument("--commit", action="store_true")
            consume.add_argument("--partition", type=int, help="assign this partition instead of subscribing")
            consume.add_argument("--offset", default="earliest", help="earliest, latest or an offset (with --partition)")
            consume.add_argument("--headers", action="store_true", help="report each record's headers")

    for name in ("describe-group", "delete-group"):
        sub.add_parser(name).add_argument("--group", required=True)
    return root


COMMANDS = {
    "metadata": cmd_metadata,
    "list-topics": cmd_list_topics,
    "create-topic": cmd_create_topic,
    "delete-topic": cmd_delete_topic,
    "produce": cmd_produce,
    "consume": cmd_consume,
    "member": cmd_member,
    "describe-group": cmd_describe_group,
    "delete-group": cmd_delete_group,
    "describe-config": cmd_describe_config,
    "alter-config": cmd_alter_config,
}


def main():
    args = parser().parse_args()
    if getattr(args, "topics", None):
        args.topic = args.topics[0]
    try:
        COMMANDS[args.command](args)
    except Exception as error:  # report every failure as JSON so the test shows it
        emit({"error": f"{type(error).__name__}: {error}"})
        sys.exit(1)


if __name__ == "__main__":
    main()
