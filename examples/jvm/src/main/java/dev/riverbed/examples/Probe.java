package dev.riverbed.examples;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * Consumers that exercise one client feature each and write down, on their own, what the
 * client told them ({@code $PROBE_OUT}, one JSON line per event): the tests compare the
 * agent's evidence with it.
 *
 * <ul>
 *   <li>{@code probe listener N}: its own {@code ConsumerRebalanceListener} (which commits
 *       on revocation); consumes N records, committing each batch, then closes;
 *   <li>{@code probe async-commits N}: {@code commitAsync} with a callback after each batch;
 *       after the first one it works longer than {@code max.poll.interval.ms}, so the group
 *       rebalances without it and that commit fails;
 *   <li>{@code probe transactional N}: read, write to {@code $KAFKA_OUTPUT_TOPIC} and commit
 *       the input offsets in one transaction per batch;
 *   <li>{@code probe never-closed 0}: polls and commits until the JVM ends, and never closes
 *       its consumer (no shutdown hook of its own);
 *   <li>{@code probe marker N}: hands each record to a thread pool and polls on at once; the
 *       workers mark each record processed ({@link dev.riverbed.Processed}, a copy of the
 *       file in riverbed's agent) when they are done with it.
 * </ul>
 */
final class Probe {
    private Probe() {}

    static synchronized void out(String line) {
        String path = System.getenv("PROBE_OUT");
        if (path == null) {
            return;
        }
        try {
            Files.writeString(Path.of(path), line + "\n", StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static String parts(Collection<TopicPartition> tps) {
        return tps.stream().filter(tp -> tp.topic().equals(Env.TOPIC)).map(tp -> String.valueOf(tp.partition()))
                .sorted().reduce((a, b) -> a + "," + b).map(s -> "[" + s + "]").orElse("[]");
    }

    static String offsets(Map<TopicPartition, OffsetAndMetadata> offsets) {
        StringBuilder b = new StringBuilder("{");
        offsets.entrySet().stream().sorted(Map.Entry.comparingByKey((x, y) -> x.partition() - y.partition()))
                .forEach(e -> b.append(b.length() > 1 ? "," : "").append('"').append(e.getKey().partition())
                        .append("\":").append(e.getValue().offset()));
        return b.append('}').toString();
    }

    static void run(String[] args) {
        String what = args[1];
        int wanted = Integer.parseInt(args[2]);
        switch (what) {
            case "listener" -> listener(wanted);
            case "async-commits" -> asyncCommits(wanted);
            case "transactional" -> transactional(wanted);
            case "never-closed" -> neverClosed();
            case "holding" -> holding(wanted);
            case "marker" -> marker(wanted);
            default -> throw new IllegalArgumentException(what);
        }
    }

    static void listener(int wanted) {
        Properties props = Env.consumerProps();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
            Map<TopicPartition, OffsetAndMetadata> done = new HashMap<>();
            consumer.subscribe(List.of(Env.TOPIC), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    out("{\"event\":\"assigned\",\"partitions\":" + parts(partitions) + "}");
                }

                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    out("{\"event\":\"revoked\",\"partitions\":" + parts(partitions) + "}");
                    if (!done.isEmpty()) {
                        consumer.commitSync(done);
                    }
                }
            });
            int seen = 0;
            while (seen < wanted) {
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
                for (ConsumerRecord<String, String> r : records) {
                    done.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                    seen++;
                }
                if (!records.isEmpty()) {
                    consumer.commitSync(done);
                    out("{\"event\":\"committed\",\"offsets\":" + offsets(done) + "}");
                }
            }
        }
        out("{\"event\":\"closed\"}");
    }

    static void asyncCommits(int wanted) {
        Properties props = Env.consumerProps();
        props.put("max.poll.interval.ms", "2000");
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
            consumer.subscribe(List.of(Env.TOPIC));
            int seen = 0;
            int batches = 0;
            while (seen < wanted) {
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
                if (records.isEmpty()) {
                    continue;
                }
                Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                for (ConsumerRecord<String, String> r : records) {
                    offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                    seen++;
                }
                if (++batches == 2) {
                    sleep(6000); // past max.poll.interval.ms: the group moves on without this member
                }
                consumer.commitAsync(offsets, (committed, error) -> out("{\"event\":\"callback\",\"ok\":"
                        + (error == null) + ",\"offsets\":" + offsets(offsets) + ",\"error\":\""
                        + (error == null ? "" : error.getClass().getSimpleName()) + "\"}"));
            }
            consumer.commitSync();
        }
        out("{\"event\":\"closed\"}");
    }

    static void transactional(int wanted) {
        Properties cprops = Env.consumerProps();
        cprops.put("isolation.level", "read_committed");
        Properties pprops = new Properties();
        pprops.put("bootstrap.servers", Env.BOOTSTRAP);
        pprops.put("transactional.id", Env.GROUP + "-probe-" + ProcessHandle.current().pid());
        pprops.put("key.serializer", "org.apache.kafka.common.serialization.StringSerializer");
        pprops.put("value.serializer", "org.apache.kafka.common.serialization.StringSerializer");
        String output = Env.get("KAFKA_OUTPUT_TOPIC", Env.TOPIC + "-out");
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cprops);
             KafkaProducer<String, String> producer = new KafkaProducer<>(pprops)) {
            producer.initTransactions();
            consumer.subscribe(List.of(Env.TOPIC));
            int seen = 0;
            while (seen < wanted) {
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
                if (records.isEmpty()) {
                    continue;
                }
                producer.beginTransaction();
                Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                for (ConsumerRecord<String, String> r : records) {
                    producer.send(new ProducerRecord<>(output, r.key(), r.value()));
                    offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                    seen++;
                }
                producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
                producer.commitTransaction();
                out("{\"event\":\"transaction\",\"offsets\":" + offsets(offsets) + "}");
            }
        }
        out("{\"event\":\"closed\"}");
    }

    static void marker(int wanted) {
        dev.riverbed.Processed.use();
        java.util.concurrent.ExecutorService workers = java.util.concurrent.Executors.newFixedThreadPool(2);
        java.util.concurrent.atomic.AtomicInteger done = new java.util.concurrent.atomic.AtomicInteger();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(Env.consumerProps())) {
            consumer.subscribe(List.of(Env.TOPIC));
            int handed = 0;
            while (done.get() < wanted) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(100))) {
                    handed++;
                    workers.submit(() -> {
                        sleep(20);
                        boolean known = dev.riverbed.Processed.mark(r.topic(), r.partition(), r.offset());
                        out("{\"event\":\"marked\",\"partition\":" + r.partition() + ",\"offset\":"
                                + r.offset() + ",\"known\":" + known + "}");
                        done.incrementAndGet();
                    });
                }
            }
            workers.shutdown();
        }
        out("{\"event\":\"closed\"}");
    }

    static void neverClosed() {
        KafkaConsumer<String, String> consumer = new KafkaConsumer<>(Env.consumerProps());
        consumer.subscribe(List.of(Env.TOPIC));
        while (true) {
            if (!consumer.poll(Duration.ofMillis(200)).isEmpty()) {
                consumer.commitSync();
            }
        }
    }

    /** Poll {@code batches} non-empty batches of up to 10 records (no commits), write down the
     * last one and how many came before it, then hold it for good: never a further call. */
    static void holding(int batches) {
        Properties props = Env.consumerProps();
        props.put("max.poll.records", "10");
        KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props);
        consumer.subscribe(List.of(Env.TOPIC));
        int polled = 0;
        int before = 0;
        ConsumerRecords<String, String> batch = ConsumerRecords.empty();
        while (polled < batches) {
            batch = consumer.poll(Duration.ofMillis(500));
            if (!batch.isEmpty()) {
                polled++;
                before += polled < batches ? batch.count() : 0;
            }
        }
        StringBuilder held = new StringBuilder("[");
        for (ConsumerRecord<String, String> r : batch) {
            held.append(held.length() > 1 ? "," : "").append("[").append(r.partition()).append(",")
                    .append(r.offset()).append("]");
        }
        out("{\"event\":\"holding\",\"held\":" + held + "],\"before\":" + before + "}");
        sleep(120_000);
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
