package dev.riverbed.examples;

import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.support.PropertySourcesPlaceholderConfigurer;
import org.springframework.kafka.annotation.EnableKafka;
import org.springframework.kafka.annotation.KafkaListener;
import org.springframework.kafka.config.ConcurrentKafkaListenerContainerFactory;
import org.springframework.kafka.core.ConsumerFactory;
import org.springframework.kafka.core.DefaultKafkaConsumerFactory;
import org.springframework.kafka.listener.ContainerProperties.AckMode;
import org.springframework.kafka.support.Acknowledgment;

/**
 * Spring Kafka {@code @KafkaListener} services.
 *
 * <ul>
 *   <li>{@code spring-listener} (SAFE): a record listener with the container's default ack
 *       mode, {@code BATCH}: the container commits a poll's records after the listener
 *       returned for every one of them, then polls again;
 *   <li>{@code spring-ack-first} (AT-MOST-ONCE, the bug riverbed catches): manual immediate
 *       acknowledgement, and the listener acknowledges each record before working on it
 *       ("acknowledge early so that a slow record is not redelivered"): a hard kill during
 *       the work loses the record it had acknowledged.
 * </ul>
 *
 * SIGTERM closes the Spring context (its shutdown hook), which stops the containers and
 * closes their consumers.
 */
final class SpringListener {
    private SpringListener() {}

    static void run(boolean ackFirst) throws InterruptedException {
        AnnotationConfigApplicationContext context = new AnnotationConfigApplicationContext();
        context.register(ackFirst ? AckFirstConfig.class : BatchConfig.class);
        context.refresh();
        context.registerShutdownHook();
        Thread.currentThread().join(); // the listener containers' threads do the work
    }

    static Map<String, Object> consumerConfig() {
        Map<String, Object> config = new HashMap<>();
        Env.consumerProps().forEach((k, v) -> config.put((String) k, v));
        return config;
    }

    @Configuration
    @EnableKafka
    static class Common {
        @Bean
        static PropertySourcesPlaceholderConfigurer placeholders() {
            return new PropertySourcesPlaceholderConfigurer(); // ${KAFKA_TOPIC} from the environment
        }

        @Bean
        ConsumerFactory<String, String> consumerFactory() {
            return new DefaultKafkaConsumerFactory<>(consumerConfig());
        }
    }

    @Configuration
    static class BatchConfig extends Common {
        @Bean
        ConcurrentKafkaListenerContainerFactory<String, String> kafkaListenerContainerFactory(
                ConsumerFactory<String, String> consumerFactory) {
            ConcurrentKafkaListenerContainerFactory<String, String> factory = new ConcurrentKafkaListenerContainerFactory<>();
            factory.setConsumerFactory(consumerFactory);
            factory.getContainerProperties().setAckMode(AckMode.BATCH);
            return factory;
        }

        @Bean
        OrderListener listener() {
            return new OrderListener();
        }
    }

    @Configuration
    static class AckFirstConfig extends Common {
        @Bean
        ConcurrentKafkaListenerContainerFactory<String, String> kafkaListenerContainerFactory(
                ConsumerFactory<String, String> consumerFactory) {
            ConcurrentKafkaListenerContainerFactory<String, String> factory = new ConcurrentKafkaListenerContainerFactory<>();
            factory.setConsumerFactory(consumerFactory);
            factory.getContainerProperties().setAckMode(AckMode.MANUAL_IMMEDIATE);
            return factory;
        }

        @Bean
        AckFirstListener listener() {
            return new AckFirstListener();
        }
    }

    static class OrderListener {
        @KafkaListener(topics = "${KAFKA_TOPIC}", groupId = "${KAFKA_GROUP}")
        void onOrder(ConsumerRecord<String, String> record) {
            Env.work();
            Env.finished(record.partition(), record.offset());
        }
    }

    static class AckFirstListener {
        @KafkaListener(topics = "${KAFKA_TOPIC}", groupId = "${KAFKA_GROUP}")
        void onOrder(ConsumerRecord<String, String> record, Acknowledgment ack) {
            ack.acknowledge(); // the bug: committed before the work is done
            Env.work();
            Env.finished(record.partition(), record.offset());
        }
    }
}
