package dev.riverbed.agent.advice;

import dev.riverbed.agent.Hooks;
import net.bytebuddy.asm.Advice;
import org.apache.kafka.streams.processor.internals.StampedRecord;

/**
 * Advice inlined into Kafka Streams' {@code StreamTask}: a stream thread polls while its
 * tasks still buffer records they have not processed, so coming back for more says nothing
 * there. A record is finished when its task's {@code doProcess} returned for it (the
 * topology ran to its end for the record), which is also what Streams commits.
 */
public final class StreamsAdvice {
    private StreamsAdvice() {}

    /** {@code StreamTask.doProcess(long)}. */
    public static final class Processed {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.FieldValue("record") StampedRecord record) {
            if (record != null) {
                Hooks.streamsProcessed(record.topic(), record.partition(), record.offset());
            }
        }
    }
}
