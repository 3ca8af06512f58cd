package dev.riverbed.agent.advice;

import dev.riverbed.agent.Hooks;
import java.util.Map;
import net.bytebuddy.asm.Advice;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;

/** Advice inlined into {@code KafkaProducer}: exactly-once consumers commit their offsets through a transaction. */
public final class ProducerAdvice {
    private ProducerAdvice() {}

    /** {@code sendOffsetsToTransaction(Map, ConsumerGroupMetadata)}: a claim, before the offsets are sent. */
    public static final class SendOffsets {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static void enter(@Advice.This Object self, @Advice.Argument(0) Map<?, ?> offsets,
                          @Advice.Argument(1) ConsumerGroupMetadata metadata) {
            if (metadata != null) {
                Hooks.transactionOffsets(self, offsets, metadata.groupId());
            }
        }
    }

    /** {@code commitTransaction()}: the transaction's offsets are committed with it, or not. */
    public static final class Commit {
        @Advice.OnMethodExit(onThrowable = Throwable.class, suppress = Throwable.class)
        static void exit(@Advice.This Object self, @Advice.Thrown Throwable thrown) {
            Hooks.transactionEnd(self, thrown == null,
                    thrown == null ? null : "commitTransaction failed: " + thrown);
        }
    }

    /** {@code abortTransaction()}. */
    public static final class Abort {
        @Advice.OnMethodExit(onThrowable = Throwable.class, suppress = Throwable.class)
        static void exit(@Advice.This Object self) {
            Hooks.transactionEnd(self, false, "transaction aborted");
        }
    }
}
