package dev.riverbed.examples;

import java.time.Duration;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.errors.WakeupException;

/**
 * SAFE: the KafkaConsumer loop of the Kafka documentation. It works on every record of a
 * poll, commits the batch with {@code commitSync()}, then polls again. SIGTERM wakes the
 * loop up (a shutdown hook), and the consumer is closed. A hard kill mid-batch leaves the
 * batch uncommitted: the next owner processes it again (at-least-once), nothing is lost.
 */
final class PlainCareful {
    private PlainCareful() {}

    static void run() throws InterruptedException {
        KafkaConsumer<String, String> consumer = new KafkaConsumer<>(Env.consumerProps());
        Thread main = Thread.currentThread();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            consumer.wakeup();
            try {
                main.join(10_000);
            } catch (InterruptedException ignored) {
                // exiting anyway
            }
        }));
        try {
            consumer.subscribe(List.of(Env.TOPIC));
            while (true) {
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(500));
                for (ConsumerRecord<String, String> record : records) {
                    Env.work();
                    Env.finished(record.partition(), record.offset());
                }
                if (!records.isEmpty()) {
                    consumer.commitSync();
                }
            }
        } catch (WakeupException e) {
            // SIGTERM: stop polling
        } finally {
            consumer.close();
        }
    }
}
