package dev.riverbed.examples;

import java.time.Duration;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.errors.WakeupException;

/**
 * AT-MOST-ONCE (the bug riverbed catches): it commits each batch right after polling it
 * ("so that a restart never handles it twice"), then works on the records one by one. A
 * hard kill in the middle of the work leaves the rest of the batch committed and never
 * done: lost.
 */
final class PlainCommitFirst {
    private PlainCommitFirst() {}

    static void run() {
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
                if (records.isEmpty()) {
                    continue;
                }
                consumer.commitSync(); // the bug: the batch is claimed done before any of it is
                for (ConsumerRecord<String, String> record : records) {
                    Env.work();
                    Env.finished(record.partition(), record.offset());
                }
            }
        } catch (WakeupException e) {
            // SIGTERM: stop polling
        } finally {
            consumer.close();
        }
    }
}
