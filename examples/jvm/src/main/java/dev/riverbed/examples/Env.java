package dev.riverbed.examples;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Properties;

/**
 * What the examples share, as a team's own small library would: settings from the tutorial's
 * environment, the simulated work, and — for the soundness tests only — the consumer's own
 * record of what it finished.
 */
final class Env {
    static final String BOOTSTRAP = get("KAFKA_BOOTSTRAP_SERVERS", get("KAFKA_BROKER", "localhost:9092"));
    static final String TOPIC = get("KAFKA_TOPIC", "events");
    static final String GROUP = get("KAFKA_GROUP", "workers");
    static final long WORK_MS = Long.parseLong(get("EXAMPLE_WORK_MS", get("WORK_MS", "0")));
    /** A dead replica's partitions move on after 10 s instead of the client's default 45 s. */
    static final int SESSION_TIMEOUT_MS = 10000;

    private static FileChannel truth;

    private Env() {}

    static String get(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? fallback : v;
    }

    /** kafka-clients consumer settings for the cluster and the group. */
    static Properties consumerProps() {
        Properties p = new Properties();
        p.put("bootstrap.servers", BOOTSTRAP);
        p.put("group.id", GROUP);
        p.put("key.deserializer", "org.apache.kafka.common.serialization.StringDeserializer");
        p.put("value.deserializer", "org.apache.kafka.common.serialization.StringDeserializer");
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        p.put("max.poll.records", "50");
        String protocol = get("EXAMPLE_GROUP_PROTOCOL", "classic");
        p.put("group.protocol", protocol);
        if ("classic".equals(protocol)) {
            p.put("session.timeout.ms", String.valueOf(SESSION_TIMEOUT_MS));
            p.put("heartbeat.interval.ms", "3000");
        }
        return p;
    }

    /** The record's processing, simulated. */
    static void work() {
        if (WORK_MS > 0) {
            try {
                Thread.sleep(WORK_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Write down that the record at {@code partition}/{@code offset} is done: one line
     * {@code {"partition","offset","t"}} appended to {@code $TRUTH_DIR/<pid>.jsonl} with one
     * write on an append-only file, so that a SIGKILL loses nothing written before it.
     */
    static synchronized void finished(int partition, long offset) {
        String dir = System.getenv("TRUTH_DIR");
        if (dir == null || dir.isEmpty()) {
            return;
        }
        try {
            if (truth == null) {
                Files.createDirectories(Path.of(dir));
                truth = FileChannel.open(Path.of(dir, ProcessHandle.current().pid() + ".jsonl"),
                        StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
            }
            double t = System.currentTimeMillis() / 1000.0;
            String line = "{\"partition\": " + partition + ", \"offset\": " + offset + ", \"t\": " + t + "}\n";
            ByteBuffer buf = ByteBuffer.wrap(line.getBytes(StandardCharsets.UTF_8));
            while (buf.hasRemaining()) {
                truth.write(buf);
            }
        } catch (IOException e) {
            throw new IllegalStateException("truth not written", e);
        }
    }
}
