package dev.riverbed.examples;

import java.nio.file.Files;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;

/**
 * SAFE: a Kafka Streams application (at-least-once, the default) whose topology works on
 * each record in a processor. Streams commits the offsets of what its tasks processed, so a
 * hard kill loses nothing: the next owner processes again what was not committed.
 * {@code application.id} is the consumer group.
 */
final class StreamsApp {
    private StreamsApp() {}

    static void run() throws Exception {
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, Env.GROUP);
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, Env.BOOTSTRAP);
        props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 1000);
        props.put(StreamsConfig.STATE_DIR_CONFIG, Files.createTempDirectory("streams-example").toString());
        props.put(StreamsConfig.consumerPrefix("session.timeout.ms"), Env.SESSION_TIMEOUT_MS);
        props.put(StreamsConfig.consumerPrefix("heartbeat.interval.ms"), 3000);
        props.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
        props.put(StreamsConfig.consumerPrefix("max.poll.records"), 50);

        StreamsBuilder builder = new StreamsBuilder();
        builder.<String, String>stream(Env.TOPIC).process(Work::new);
        KafkaStreams streams = new KafkaStreams(builder.build(), props);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            streams.close();
            stopped.countDown();
        }));
        streams.start();
        stopped.await();
    }

    /** The application's work on one record. */
    static final class Work implements Processor<String, String, Void, Void> {
        private ProcessorContext<Void, Void> context;

        @Override
        public void init(ProcessorContext<Void, Void> context) {
            this.context = context;
        }

        @Override
        public void process(Record<String, String> record) {
            Env.work();
            RecordMetadata meta = context.recordMetadata().orElseThrow();
            Env.finished(meta.partition(), meta.offset());
        }
    }
}
