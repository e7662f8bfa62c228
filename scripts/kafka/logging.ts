import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logging } from "./versions.ts";

/** JVM flags making a broker log to `<logDir>/server.log` (bounded size) and nowhere else. */
export function brokerLoggingFlags(logging: Logging, configDir: string, logDir: string): string[] {
  mkdirSync(configDir, { recursive: true });
  const file = join(logDir, "server.log");
  if (logging === "log4j2") {
    const config = join(configDir, "log4j2-broker.xml");
    writeFileSync(config, log4j2FileConfig(file));
    return [`-Dlog4j2.configurationFile=${config}`, `-Dkafka.logs.dir=${logDir}`];
  }
  const config = join(configDir, "log4j-broker.properties");
  writeFileSync(config, reload4jFileConfig(file));
  return [`-Dlog4j.configuration=file:${config}`, `-Dkafka.logs.dir=${logDir}`];
}

/** JVM flags making a CLI tool log warnings to stderr only, keeping stdout for the tool's own output. */
export function toolLoggingFlags(logging: Logging, configDir: string): string[] {
  mkdirSync(configDir, { recursive: true });
  if (logging === "log4j2") {
    const config = join(configDir, "log4j2-tools.xml");
    writeFileSync(config, LOG4J2_STDERR);
    return [`-Dlog4j2.configurationFile=${config}`];
  }
  const config = join(configDir, "log4j-tools.properties");
  writeFileSync(config, RELOAD4J_STDERR);
  return [`-Dlog4j.configuration=file:${config}`];
}

function log4j2FileConfig(file: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders>
    <RollingFile name="file" fileName="${file}" filePattern="${file}.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <SizeBasedTriggeringPolicy size="20 MB"/>
      <DefaultRolloverStrategy max="1"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="info"><AppenderRef ref="file"/></Root>
    <Logger name="kafka.request.logger" level="warn"/>
    <Logger name="state.change.logger" level="warn"/>
    <Logger name="org.apache.kafka.clients" level="warn"/>
  </Loggers>
</Configuration>
`;
}

function reload4jFileConfig(file: string): string {
  return `log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${file}
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=1
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
`;
}

const LOG4J2_STDERR = `<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders>
    <Console name="stderr" target="SYSTEM_ERR"><PatternLayout pattern="[%d] %p %m (%c)%n"/></Console>
  </Appenders>
  <Loggers>
    <Root level="warn"><AppenderRef ref="stderr"/></Root>
  </Loggers>
</Configuration>
`;

const RELOAD4J_STDERR = `log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
`;
