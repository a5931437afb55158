/**
 * ActiveMQ 5.17 from Debian (/usr/share/activemq) for the STOMP benchmarks: a broker of its own
 * in `dir` (config, KahaDB data, temp files), STOMP on 127.0.0.1:`port` with TCP_NODELAY and
 * socket buffers of `socketBufferSize` (ActiveMQ's 64 KiB default cannot hold a 1000-message
 * prefetch window plus the ACKs coming back: docs/benchmarks.md, "STOMP"), OpenWire on
 * `openwirePort`. Returns the java child process; the caller stops it by pid.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function startActiveMq(dir, port, openwirePort, { socketBufferSize = 4194304, stdout = 'inherit' } = {}) {
  const home = '/usr/share/activemq';
  for (const d of ['conf', 'data', 'tmp']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'conf', 'activemq.xml'), `<beans xmlns="http://www.springframework.org/schema/beans" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans.xsd
  http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="bench" dataDirectory="${dir}/data" useJmx="false">
    <persistenceAdapter><kahaDB directory="${dir}/data/kahadb"/></persistenceAdapter>
    <systemUsage><systemUsage><memoryUsage><memoryUsage percentOfJvmHeap="70"/></memoryUsage>
      <storeUsage><storeUsage limit="20 gb"/></storeUsage><tempUsage><tempUsage limit="5 gb"/></tempUsage></systemUsage></systemUsage>
    <transportConnectors>
      <transportConnector name="openwire" uri="tcp://127.0.0.1:${openwirePort}"/>
      <transportConnector name="stomp" uri="stomp://127.0.0.1:${port}?transport.tcpNoDelay=true&amp;transport.socketBufferSize=${socketBufferSize}"/>
    </transportConnectors>
  </broker>
</beans>
`);
  writeFileSync(join(dir, 'conf', 'log4j.properties'), 'log4j.rootLogger=WARN, stdout\nlog4j.appender.stdout=org.apache.log4j.ConsoleAppender\nlog4j.appender.stdout.layout=org.apache.log4j.PatternLayout\nlog4j.appender.stdout.layout.ConversionPattern=%d %-5p %m%n\n');
  return spawn('java', ['-Xms1G', '-Xmx4G', '-Djava.awt.headless=true', `-Djava.io.tmpdir=${dir}/tmp`, '--add-opens', 'java.base/java.lang=ALL-UNNAMED', '--add-opens', 'java.base/java.util=ALL-UNNAMED', '--add-opens', 'java.base/java.net=ALL-UNNAMED',
    `-Dactivemq.classpath=${dir}/conf`, `-Dactivemq.home=${home}`, `-Dactivemq.base=${dir}`, `-Dactivemq.conf=${dir}/conf`, `-Dactivemq.data=${dir}/data`, '-jar', join(home, 'bin', 'activemq.jar'), 'start', `xbean:file:${dir}/conf/activemq.xml`], { cwd: dir, stdio: ['ignore', stdout, 'inherit'] });
}
