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

    /** Writes what a tracker has pending once it is due, when the application makes no call. */
    private static Thread flusher;

    static synchronized void register(Tracker tracker) {
        live.add(tracker);
        if (flusher == null) {
            flusher = new Thread(Registry::flushLoop, "riverbed-evidence-flush");
            flusher.setDaemon(true);
            flusher.start();
        }
    }

    // An application that holds its last batch (a long piece of work, a stall) makes no
    // further call: without this thread what it finished before would reach the file only
    // at its next call, never if it is killed hard meanwhile. It only writes; coming back
    // for more is the application's call, never this thread's.
    private static void flushLoop() {
        while (true) {
            Settings s = settings;
            long ms = s == null ? 100 : Math.max(5, (long) (s.flushS * 1000));
            try {
                Thread.sleep(ms);
            } catch (InterruptedException e) {
                return;
            }
            double t = Tracker.now();
            for (Tracker tracker : live()) {
                try {
                    tracker.flushIfDue(t);
                } catch (Throwable e) { // evidence never reaches the application
                    System.err.println("riverbed agent: flush failed: " + e);
                }
            }
        }
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

    /** How long the JVM's end waits for the application's own shutdown hooks (less than
     * riverbed's grace between SIGTERM and SIGKILL). */
    static final long CLOSE_GRACE_MS = 15_000;
    /** Without a view of the application's hooks: how long to wait for its consumers to close. */
    static final long BLIND_GRACE_MS = 3_000;
    /** The JVM's table of application shutdown hooks (null: not readable). */
    private static volatile Map<Thread, Thread> applicationHooks;

    /**
     * At the JVM's end (the program returned, called {@code System.exit}, or got SIGTERM):
     * the application's own shutdown hooks (Spring's context, a {@code wakeup()} hook,
     * {@code KafkaStreams.close()}) run beside this one and close its consumers, however
     * long their last batch takes; this hook waits for them. A consumer still open once
     * they are done was never closed, and the group notices only when its session times
     * out, as after a crash: {@code stop} with reason {@code error}.
     */
    static void installShutdownHook(java.lang.instrument.Instrumentation inst) {
        applicationHooks = hooksTable(inst);
        Thread hook = new Thread(Registry::atExit, "riverbed-agent-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    private static void atExit() {
        long deadline = System.currentTimeMillis() + CLOSE_GRACE_MS;
        Map<Thread, Thread> hooks = applicationHooks;
        if (hooks != null) {
            List<Thread> others;
            // The JVM stopped adding hooks when it started running them: the table is final.
            synchronized (hooks) {
                others = new ArrayList<>(hooks.keySet());
            }
            for (Thread t : others) {
                long left = deadline - System.currentTimeMillis();
                if (t == Thread.currentThread() || left <= 0) {
                    continue;
                }
                try {
                    t.join(left);
                } catch (InterruptedException e) {
                    break;
                }
            }
        } else {
            deadline = System.currentTimeMillis() + BLIND_GRACE_MS;
            while (!live().isEmpty() && System.currentTimeMillis() < deadline) {
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    break;
                }
            }
        }
        for (Tracker t : live()) {
            try {
                t.stop("error", "the JVM exited without closing its consumer");
            } catch (RuntimeException e) {
                System.err.println("riverbed agent: stop not recorded: " + e);
            }
        }
    }

    /** {@code java.lang.ApplicationShutdownHooks.hooks}, opened to the agent (an agent may). */
    @SuppressWarnings("unchecked")
    private static Map<Thread, Thread> hooksTable(java.lang.instrument.Instrumentation inst) {
        try {
            Module base = Object.class.getModule();
            if (inst != null) {
                inst.redefineModule(base, java.util.Set.of(), Map.of(),
                        Map.of("java.lang", java.util.Set.of(Registry.class.getModule())),
                        java.util.Set.of(), Map.of());
            }
            Class<?> c = Class.forName("java.lang.ApplicationShutdownHooks");
            java.lang.reflect.Field f = c.getDeclaredField("hooks");
            f.setAccessible(true);
            return (Map<Thread, Thread>) f.get(null);
        } catch (Exception | LinkageError e) {
            return null;
        }
    }
}
