package dev.riverbed.agent.advice;

import dev.riverbed.agent.Hooks;
import dev.riverbed.agent.Tracker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.regex.Pattern;
import net.bytebuddy.asm.Advice;
import net.bytebuddy.implementation.bytecode.assign.Assigner;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.SubscriptionPattern;
import org.apache.kafka.common.TopicPartition;

/**
 * Advice inlined into {@code KafkaConsumer} (the facade every Kafka client API user, Spring
 * Kafka's containers and Kafka Streams' threads go through, whichever group protocol runs
 * behind it). Each nested class is the advice of one method; {@link #FIELD} is the field the
 * agent adds to the class for the consumer's state.
 */
public final class ConsumerAdvice {
    public static final String FIELD = "riverbed$state";

    private ConsumerAdvice() {}

    /** {@code KafkaConsumer(ConsumerConfig, Deserializer, Deserializer)}: every public constructor ends here. */
    public static final class Created {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.This Object self, @Advice.Argument(0) ConsumerConfig config,
                         @Advice.FieldValue(value = FIELD, readOnly = false) Object state) {
            String protocol = null;
            try {
                protocol = config.getString(ConsumerConfig.GROUP_PROTOCOL_CONFIG);
            } catch (RuntimeException ignored) {
                // an older client without the setting: classic
            }
            state = Hooks.created(self, config.getString(ConsumerConfig.GROUP_ID_CONFIG),
                    config.getString(ConsumerConfig.CLIENT_ID_CONFIG),
                    config.getBoolean(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG), protocol);
        }
    }

    /** {@code subscribe(Collection, ConsumerRebalanceListener)}. */
    public static final class SubscribeTopics {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static void enter(@Advice.This Object self, @Advice.FieldValue(FIELD) Object state,
                          @Advice.Argument(0) Collection<String> topics,
                          @Advice.Argument(value = 1, readOnly = false) ConsumerRebalanceListener listener) {
            if (Hooks.wantsTopics(state, topics)) {
                listener = (ConsumerRebalanceListener) Hooks.listener(state, self, listener,
                        ConsumerRebalanceListener.class);
            }
        }
    }

    /** {@code subscribe(Pattern, ConsumerRebalanceListener)}. */
    public static final class SubscribePattern {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static void enter(@Advice.This Object self, @Advice.FieldValue(FIELD) Object state,
                          @Advice.Argument(0) Pattern pattern,
                          @Advice.Argument(value = 1, readOnly = false) ConsumerRebalanceListener listener) {
            if (Hooks.wantsPattern(state, pattern)) {
                listener = (ConsumerRebalanceListener) Hooks.listener(state, self, listener,
                        ConsumerRebalanceListener.class);
            }
        }
    }

    /** {@code subscribe(SubscriptionPattern, ConsumerRebalanceListener)} (the broker's regular expressions). */
    public static final class SubscribeRegex {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static void enter(@Advice.This Object self, @Advice.FieldValue(FIELD) Object state,
                          @Advice.Argument(0) SubscriptionPattern pattern,
                          @Advice.Argument(value = 1, readOnly = false) ConsumerRebalanceListener listener) {
            if (pattern != null && Hooks.wantsRegex(state, pattern.pattern())) {
                listener = (ConsumerRebalanceListener) Hooks.listener(state, self, listener,
                        ConsumerRebalanceListener.class);
            }
        }
    }

    /** {@code subscribe(Collection)}: subscribed again with a listener (which records ownership). */
    public static final class SubscribeTopicsOnly {
        @Advice.OnMethodEnter(skipOn = Advice.OnNonDefaultValue.class, suppress = Throwable.class)
        static boolean enter(@Advice.This KafkaConsumer<?, ?> self, @Advice.FieldValue(FIELD) Object state,
                             @Advice.Argument(0) Collection<String> topics) {
            if (!Hooks.wantsTopics(state, topics)) {
                return false;
            }
            self.subscribe(topics, (ConsumerRebalanceListener) Hooks.listener(state, self, null,
                    ConsumerRebalanceListener.class));
            return true;
        }
    }

    /** {@code subscribe(Pattern)}. */
    public static final class SubscribePatternOnly {
        @Advice.OnMethodEnter(skipOn = Advice.OnNonDefaultValue.class, suppress = Throwable.class)
        static boolean enter(@Advice.This KafkaConsumer<?, ?> self, @Advice.FieldValue(FIELD) Object state,
                             @Advice.Argument(0) Pattern pattern) {
            if (!Hooks.wantsPattern(state, pattern)) {
                return false;
            }
            self.subscribe(pattern, (ConsumerRebalanceListener) Hooks.listener(state, self, null,
                    ConsumerRebalanceListener.class));
            return true;
        }
    }

    /** {@code subscribe(SubscriptionPattern)}. */
    public static final class SubscribeRegexOnly {
        @Advice.OnMethodEnter(skipOn = Advice.OnNonDefaultValue.class, suppress = Throwable.class)
        static boolean enter(@Advice.This KafkaConsumer<?, ?> self, @Advice.FieldValue(FIELD) Object state,
                             @Advice.Argument(0) SubscriptionPattern pattern) {
            if (pattern == null || !Hooks.wantsRegex(state, pattern.pattern())) {
                return false;
            }
            self.subscribe(pattern, (ConsumerRebalanceListener) Hooks.listener(state, self, null,
                    ConsumerRebalanceListener.class));
            return true;
        }
    }

    /** {@code poll(Duration)}: coming back for more, then the records handed out. */
    public static final class Poll {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static Tracker enter(@Advice.FieldValue(FIELD) Object state) {
            return Hooks.pollEnter(state);
        }

        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.Enter Tracker tracker, @Advice.Return ConsumerRecords<?, ?> records) {
            if (tracker == null || records == null || records.isEmpty()) {
                return;
            }
            java.util.Set<TopicPartition> parts = records.partitions();
            long[] spans = new long[3 * parts.size()];
            int n = 0;
            for (TopicPartition tp : parts) {
                if (!tracker.topic.equals(tp.topic())) {
                    continue;
                }
                List<? extends ConsumerRecord<?, ?>> list = records.records(tp);
                if (list.isEmpty()) {
                    continue;
                }
                spans[n] = tp.partition();
                spans[n + 1] = list.get(0).offset();
                spans[n + 2] = list.get(list.size() - 1).offset();
                n += 3;
            }
            if (n > 0) {
                tracker.hand(spans, n, dev.riverbed.agent.Tracker.now());
            }
        }
    }

    /** {@code commitSync(…)}: every overload. */
    public static final class CommitSync {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static Object enter(@Advice.FieldValue(FIELD) Object state, @Advice.AllArguments Object[] args) {
            Object offsets = args.length > 0 && args[0] instanceof java.util.Map ? args[0] : null;
            return Hooks.commitEnter(state, offsets, "commit");
        }

        @Advice.OnMethodExit(onThrowable = Throwable.class, suppress = Throwable.class)
        static void exit(@Advice.Enter Object pending) {
            Hooks.commitExit(pending);
        }
    }

    /** {@code commitAsync(…)}: every overload. */
    public static final class CommitAsync {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static Object enter(@Advice.FieldValue(FIELD) Object state, @Advice.AllArguments Object[] args) {
            Object offsets = args.length > 0 && args[0] instanceof java.util.Map ? args[0] : null;
            return Hooks.commitEnter(state, offsets, "commit-async");
        }

        @Advice.OnMethodExit(onThrowable = Throwable.class, suppress = Throwable.class)
        static void exit(@Advice.Enter Object pending) {
            Hooks.commitExit(pending);
        }
    }

    /** {@code seek(TopicPartition, long)}. */
    public static final class SeekOffset {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.FieldValue(FIELD) Object state, @Advice.Argument(0) TopicPartition tp,
                         @Advice.Argument(1) long offset) {
            if (tp != null) {
                Hooks.seek(state, tp.topic(), tp.partition(), offset);
            }
        }
    }

    /** {@code seek(TopicPartition, OffsetAndMetadata)}. */
    public static final class SeekMetadata {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.FieldValue(FIELD) Object state, @Advice.Argument(0) TopicPartition tp,
                         @Advice.Argument(1) OffsetAndMetadata offset) {
            if (tp != null && offset != null) {
                Hooks.seek(state, tp.topic(), tp.partition(), offset.offset());
            }
        }
    }

    /** {@code seekToBeginning(Collection)}. */
    public static final class SeekToBeginning {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.FieldValue(FIELD) Object state, @Advice.Argument(0) Collection<TopicPartition> tps) {
            Hooks.seekTo(state, Hooks.dataPartitions(state, tps), tps == null || tps.isEmpty(), "beginning");
        }
    }

    /** {@code seekToEnd(Collection)}. */
    public static final class SeekToEnd {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.FieldValue(FIELD) Object state, @Advice.Argument(0) Collection<TopicPartition> tps) {
            Hooks.seekTo(state, Hooks.dataPartitions(state, tps), tps == null || tps.isEmpty(), "end");
        }
    }

    /** {@code pause(Collection)}. */
    public static final class Pause {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.FieldValue(FIELD) Object state, @Advice.Argument(0) Collection<TopicPartition> tps) {
            Hooks.paused(state, Hooks.dataPartitions(state, tps), true);
        }
    }

    /** {@code resume(Collection)}. */
    public static final class Resume {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.FieldValue(FIELD) Object state, @Advice.Argument(0) Collection<TopicPartition> tps) {
            Hooks.paused(state, Hooks.dataPartitions(state, tps), false);
        }
    }

    /** {@code close(…)}: every overload; the outermost one ends the member. */
    public static final class Close {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static Object enter(@Advice.FieldValue(FIELD) Object state) {
            return Hooks.closeEnter(state);
        }

        @Advice.OnMethodExit(onThrowable = Throwable.class, suppress = Throwable.class)
        static void exit(@Advice.FieldValue(FIELD) Object state, @Advice.Enter Object token,
                         @Advice.Thrown Throwable thrown) {
            Hooks.closeExit(state, token, thrown);
        }
    }
}
