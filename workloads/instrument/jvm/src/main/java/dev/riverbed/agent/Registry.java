package dev.riverbed.agent;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;

/** The trackers of this process, the consumers by their subscription state, and the end of the process. */
public final class Registry {
    static volatile Settings settings;
    /** The application uses riverbed's processed marker: only marks finish records. */
    static volatile boolean markerMode;

    private static final List<Tracker> live = new ArrayList<>();
    /** A consumer's {@code SubscriptionState} (shared by its coordinator and commit manager) to its state. */
    private static final Map<Object, ConsumerState> bySubscriptions = new WeakHashMap<>();
    /** How the commit this thread is making came about (commit, commit-async, close, rebalance). */
    static final ThreadLocal<String> how = new ThreadLocal<>();

    private Registry() {}

    static synchronized void register(Tracker tracker) {
        live.add(tracker);
    }

    static synchronized void unregister(Tracker tracker) {
        live.remove(tracker);
    }

    static synchronized List<Tracker> live() {
        return new ArrayList<>(live);
    }

    static synchronized void bySubscriptions(Object subscriptions, ConsumerState state) {
        if (subscriptions != null) {
            bySubscriptions.put(subscriptions, state);
        }
    }

    static synchronized ConsumerState ofSubscriptions(Object subscriptions) {
        return subscriptions == null ? null : bySubscriptions.get(subscriptions);
    }

    /** Finish the record in whichever tracker of this process handed it out. */
    public static boolean mark(String topic, int partition, long offset) {
        boolean done = false;
        for (Tracker t : live()) {
            if (t.topic.equals(topic) && t.mark(partition, offset)) {
                done = true;
            }
        }
        return done;
    }

    /** From now on only marks finish records (the application uses the marker). */
    public static void useMarker() {
        markerMode = true;
        for (Tracker t : live()) {
            t.markerMode = true;
        }
    }

    /** How long the JVM's end waits for the application's own shutdown hooks to close its consumers. */
    static final long CLOSE_GRACE_MS = 3000;

    /**
     * At the JVM's end (the program returned, called {@code System.exit}, or got SIGTERM):
     * consumers the application closes in its own shutdown hooks (Spring's context, a
     * {@code wakeup()} hook) get their time; a consumer still open after that was never
     * closed, and the group notices only when its session times out, as after a crash:
     * {@code stop} with reason {@code error}.
     */
    static void installShutdownHook() {
        Thread hook = new Thread(() -> {
            long deadline = System.currentTimeMillis() + CLOSE_GRACE_MS;
            while (!live().isEmpty() && System.currentTimeMillis() < deadline) {
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    break;
                }
            }
            for (Tracker t : live()) {
                try {
                    t.stop("error", "the JVM exited without closing its consumer");
                } catch (RuntimeException e) {
                    System.err.println("riverbed agent: stop not recorded: " + e);
                }
            }
        }, "riverbed-agent-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
    }
}
