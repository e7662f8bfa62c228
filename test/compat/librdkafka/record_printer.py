#!/usr/bin/env python3
"""A librdkafka (confluent-kafka) consumer that keeps running.

Prints one JSON line per record ({"partition": p, "offset": o, "value": "..."}) and per rebalance event, and
{"log": ...} for every error librdkafka reports, until "stop" arrives on standard input ("pause" and "resume"
pause and resume its partitions, also those it is assigned later).
Args: bootstrap topic group [key=value consumer properties...].
"""

import json
import sys
import threading

from confluent_kafka import Consumer


def emit(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


class Logger:
    """librdkafka's log lines: those at error level or worse (syslog 0-3) are reported as problems."""

    def log(self, level, message, *args):
        text = message % args if args else message
        if level <= 3:
            emit({"log": text, "level": level})

    def __getattr__(self, name):
        return lambda message, *args: None


def main():
    bootstrap, topic, group = sys.argv[1:4]
    config = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
        "auto.commit.interval.ms": 300,
        "broker.address.family": "v4",
        "error_cb": lambda error: emit({"log": str(error), "level": 3}),
    }
    for pair in sys.argv[4:]:
        key, value = pair.split("=", 1)
        config[key] = value
    state = {"paused": False, "stop": False}

    def read_input():
        for line in sys.stdin:
            command = line.strip()
            if command == "pause":
                state["paused"] = True
            elif command == "resume":
                state["paused"] = False
            elif command == "stop":
                break
        state["stop"] = True

    threading.Thread(target=read_input, daemon=True).start()
    consumer = Consumer(config, logger=Logger())

    def on_assign(consumer, partitions):
        emit({"event": "assigned", "partitions": sorted(p.partition for p in partitions)})

    def on_revoke(consumer, partitions):
        emit({"event": "revoked", "partitions": sorted(p.partition for p in partitions)})

    def on_lost(consumer, partitions):
        emit({"event": "lost", "partitions": sorted(p.partition for p in partitions)})

    consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    emit({"event": "started"})
    paused = False
    while not state["stop"]:
        assignment = consumer.assignment()
        if state["paused"] and assignment:
            consumer.pause(assignment)
            paused = True
        elif not state["paused"] and paused:
            consumer.resume(assignment)
            paused = False
        message = consumer.poll(0.1)
        if message is None:
            continue
        if message.error():
            emit({"log": str(message.error()), "level": 3})
            continue
        emit({"partition": message.partition(), "offset": message.offset(), "value": message.value().decode()})
    consumer.close()
    emit({"event": "stopped"})


if __name__ == "__main__":
    main()
