import assert from "node:assert/strict";
import { test } from "node:test";
import {
  brokerClasspath,
  DISTRIBUTIONS,
  KAFKA_VERSIONS,
  toolsClasspath,
} from "../../../scripts/kafka/versions.ts";
import { jarEntries } from "../../../scripts/maven/jar.ts";

function classesOn(classpath: string[]): Set<string> {
  const classes = new Set<string>();
  for (const jar of classpath) {
    for (const entry of jarEntries(jar)) {
      if (entry.endsWith(".class")) classes.add(entry.slice(0, -6).replaceAll("/", "."));
    }
  }
  return classes;
}

for (const version of KAFKA_VERSIONS) {
  test(`every tool name of Kafka ${version} maps to a main class on its tools classpath`, async () => {
    const classes = classesOn(await toolsClasspath(version));
    const missing = Object.entries(DISTRIBUTIONS[version].mainClasses).filter(
      ([, main]) => !classes.has(main),
    );
    assert.deepEqual(missing, []);
  });

  test(`the Kafka ${version} broker classpath has the broker and storage tool and one logging binding`, async () => {
    const classpath = await brokerClasspath(version);
    const classes = classesOn(classpath);
    assert.ok(classes.has("kafka.Kafka"));
    assert.ok(classes.has("kafka.tools.StorageTool"));
    const bindings = classpath.filter((jar) =>
      /\/(log4j-slf4j2?-impl|slf4j-reload4j|logback-classic)-/.test(jar),
    );
    assert.equal(bindings.length, 1, bindings.join(", "));
  });
}
