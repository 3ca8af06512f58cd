package dev.riverbed.examples;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;

/**
 * {@code bench-poll}: the consumer of benchmarks/instrument_overhead.py's {@code jvm-poll}
 * shape. It consumes {@code $RECORDS} records of a backlog in {@code poll()} batches of up to
 * 500, handling each for {@code $WORK_US} µs (busy, like real work) and committing each
 * batch with {@code commitSync()}, then prints one JSON line: records, seconds and the
 * process's CPU seconds from the first record handed out to the last. With
 * {@code $WARMUP_RECORDS} (default 0) the clocks start only after that many records: a JVM
 * spends its first second compiling the hot loop, and a service's throughput is what it keeps
 * once warm. The counted records are {@code $RECORDS} minus the warm-up.
 */
final class Bench {
    private Bench() {}

    static void run() {
        int want = Integer.parseInt(System.getenv("RECORDS"));
        int warm = Integer.parseInt(Env.get("WARMUP_RECORDS", "0"));
        long workNs = (long) (Double.parseDouble(Env.get("WORK_US", "0")) * 1000);
        Properties props = Env.consumerProps();
        props.put("bootstrap.servers", Env.get("KAFKA_BOOTSTRAP_SERVERS", Env.get("KAFKA_BROKER", "")));
        props.put("max.poll.records", "500");
        com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long t0 = 0;
        long cpu0 = 0;
        int n = 0;
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
            consumer.subscribe(List.of(Env.TOPIC));
            while (n < want) {
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(500));
                for (ConsumerRecord<String, String> record : records) {
                    if (n == warm) {
                        t0 = System.nanoTime();
                        cpu0 = os.getProcessCpuTime();
                    }
                    n++;
                    long end = System.nanoTime() + workNs;
                    while (System.nanoTime() < end) {
                        Thread.onSpinWait();
                    }
                }
                if (!records.isEmpty()) {
                    consumer.commitSync();
                }
            }
            double s = (System.nanoTime() - t0) / 1e9;
            double cpu = (os.getProcessCpuTime() - cpu0) / 1e9;
            System.out.println("{\"n\": " + (n - warm) + ", \"s\": " + s + ", \"cpu\": " + cpu + "}");
        }
    }
}
