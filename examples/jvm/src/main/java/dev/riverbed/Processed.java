package dev.riverbed;

import java.lang.reflect.Method;

/**
 * riverbed's processed marker for JVM consumers that finish records somewhere else.
 *
 * <p>riverbed judges an unmodified consumer by what kafka-clients shows: a record is finished
 * when the application comes back for more (its next {@code poll()}). A program that hands
 * records to worker threads, or that commits before doing the work, says exactly when each
 * record is done instead:
 *
 * <pre>{@code
 * Processed.use();                       // once, before the first poll
 * ...
 * executor.submit(() -> { handle(record); Processed.mark(record.topic(), record.partition(), record.offset()); });
 * }</pre>
 *
 * <p>From {@link #use()} on, only marks finish records of this JVM's instrumented consumers.
 * Without riverbed's agent (the program is not run by riverbed) every call does nothing, so
 * the class can ship in the application: copy this one file, or put riverbed's agent jar on
 * the compile class path.
 */
public final class Processed {
    private static final Method MARK;
    private static final Method USE;

    static {
        Method mark = null;
        Method use = null;
        try {
            Class<?> registry = Class.forName("dev.riverbed.agent.Registry", true, ClassLoader.getSystemClassLoader());
            mark = registry.getMethod("mark", String.class, int.class, long.class);
            use = registry.getMethod("useMarker");
        } catch (ReflectiveOperationException | LinkageError e) {
            // not run with riverbed's agent: the marker does nothing
        }
        MARK = mark;
        USE = use;
    }

    private Processed() {}

    /** Switch this JVM's instrumented consumers to the marker: from now on only marks finish records. */
    public static void use() {
        if (USE != null) {
            try {
                USE.invoke(null);
            } catch (ReflectiveOperationException e) {
                // evidence must never break the application
            }
        }
    }

    /** Mark the record at {@code topic}/{@code partition}/{@code offset} finished (any thread).
     * Returns whether an instrumented consumer of this JVM had handed it out. */
    public static boolean mark(String topic, int partition, long offset) {
        if (MARK == null) {
            return false;
        }
        try {
            return (Boolean) MARK.invoke(null, topic, partition, offset);
        } catch (ReflectiveOperationException e) {
            return false;
        }
    }
}
