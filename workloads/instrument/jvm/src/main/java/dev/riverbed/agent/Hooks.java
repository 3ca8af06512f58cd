package dev.riverbed.agent;

import java.lang.reflect.Field;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiConsumer;
import java.util.regex.Pattern;

/**
 * What the advice inlined into Kafka's classes calls. Nothing here names a Kafka type: the
 * agent sits on the system class path, while the application may load kafka-clients from
 * a class loader of its own (a Spring Boot jar); Kafka objects are reached by reflection,
 * on the paths that are not hot (commits, rebalances, seeks).
 */
public final class Hooks {
    private Hooks() {}

    private static volatile boolean warnedOldClient;

    // ---- consumers -------------------------------------------------------------------------
    /** A {@code KafkaConsumer} was made: what it is (never null when the agent is on). */
    public static Object created(Object consumer, String group, String clientId, Boolean autoCommit,
                                 String protocol) {
        Settings s = Registry.settings;
        if (s == null) {
            return null;
        }
        Object delegate = field(consumer, "delegate");
        if (delegate == null) {
            // kafka-clients before 4.0 (no ConsumerDelegate): its commits could not be told
            // apart, and claims missing from the evidence would read as records skipped.
            // Record nothing: riverbed then stops the run for want of instrumented evidence.
            if (!warnedOldClient) {
                warnedOldClient = true;
                System.err.println("riverbed agent: kafka-clients " + clientVersion(consumer)
                        + " is older than 4.0: its consumers are not recorded (judge it with "
                        + "--consumer-evidence output-topic or offsets)");
            }
            return null;
        }
        Object subscriptions = field(delegate, "subscriptions");
        if (clientId == null || clientId.isEmpty()) {
            Object id = call(consumer, "clientId");
            clientId = id == null ? null : id.toString();
        }
        String proto = delegate.getClass().getSimpleName().startsWith("Async") ? "consumer" : "classic";
        boolean streams = StackWalker.getInstance().walk(frames -> frames.anyMatch(
                f -> f.getClassName().startsWith("org.apache.kafka.streams.")));
        ConsumerState state = new ConsumerState(consumer, group, clientId, clientVersion(consumer),
                Boolean.TRUE.equals(autoCommit) && group != null, proto, streams);
        Registry.bySubscriptions(subscriptions, state);
        return state;
    }

    /** kafka-clients' version, as the application's copy reports it. */
    static String clientVersion(Object consumer) {
        for (String name : new String[] {"org.apache.kafka.common.utils.internals.AppInfoParser",
                "org.apache.kafka.common.utils.AppInfoParser"}) {
            try {
                Class<?> c = Class.forName(name, false, consumer.getClass().getClassLoader());
                return String.valueOf(c.getMethod("getVersion").invoke(null));
            } catch (ReflectiveOperationException | LinkageError e) {
                // try the next name
            }
        }
        return null;
    }

    public static boolean wantsTopics(Object state, Collection<String> topics) {
        Settings s = Registry.settings;
        return state != null && s != null && topics != null && topics.contains(s.topic)
                && s.records(((ConsumerState) state).group, true);
    }

    public static boolean wantsPattern(Object state, Pattern pattern) {
        Settings s = Registry.settings;
        return state != null && s != null && pattern != null && pattern.matcher(s.topic).matches()
                && s.records(((ConsumerState) state).group, true);
    }

    public static boolean wantsRegex(Object state, String regex) {
        try {
            return regex != null && wantsPattern(state, Pattern.compile(regex));
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** The listener the consumer gets: one that records ownership and calls the application's
     * ({@code user}, may be null). Starts the consumer's tracker. */
    public static Object listener(Object state, Object consumer, Object user, Class<?> iface) {
        ConsumerState st = (ConsumerState) state;
        if (user != null && Proxy.isProxyClass(user.getClass())
                && Proxy.getInvocationHandler(user) instanceof RebalanceHandler) {
            return user;
        }
        Tracker tracker = tracker(st);
        if (tracker == null) {
            return user;
        }
        return Proxy.newProxyInstance(iface.getClassLoader(), new Class<?>[] {iface},
                new RebalanceHandler(st, tracker, consumer, user));
    }

    /** The consumer's tracker, made and started on first use. */
    static synchronized Tracker tracker(ConsumerState st) {
        if (st.tracker != null) {
            return st.tracker.stopped ? null : st.tracker;
        }
        boolean background = st.autoCommit && st.consumerProtocol();
        Tracker t = new Tracker(Registry.settings, st.clientId, st.clientVersion, st.group, st.protocol,
                st.autoCommit, background, background, st.streams || Registry.markerMode);
        try {
            t.start();
        } catch (Exception e) {
            System.err.println("riverbed agent: evidence file not created: " + e);
            return null;
        }
        st.tracker = t;
        return t;
    }

    /** The live tracker of a consumer's state, or null. */
    public static Tracker live(Object state) {
        return state == null ? null : ((ConsumerState) state).live();
    }

    /** {@code poll()} begins: the application came back for more. */
    public static Tracker pollEnter(Object state) {
        Tracker t = live(state);
        if (t != null) {
            t.cameBack(Tracker.now());
        }
        return t;
    }

    // ---- commits the application asks for ---------------------------------------------------
    /** A token restoring the thread's commit context when the call ends. */
    static final class Pending {
        final String previousHow;

        Pending(String previousHow) {
            this.previousHow = previousHow;
        }
    }

    /**
     * {@code commitSync} / {@code commitAsync} begins. Under the classic protocol the
     * coordinator's request (below) is the claim, named by this context; under the consumer
     * protocol the request leaves from the client's background thread: the claim is written
     * here, before the call hands the commit over.
     */
    public static Object commitEnter(Object state, Object offsets, String how) {
        ConsumerState st = (ConsumerState) state;
        Tracker t = live(state);
        if (t == null) {
            return null;
        }
        String previous = Registry.how.get();
        if (!"commit".equals(previous) && !"commit-async".equals(previous)) {
            Registry.how.set(how);
        }
        if (st.consumerProtocol() && !"commit".equals(previous) && !"commit-async".equals(previous)) {
            Map<Integer, Long> mapping = offsets == null ? t.positions() : offsets(t.topic, offsets);
            t.claim(mapping, how);
        }
        return new Pending(previous);
    }

    public static void commitExit(Object pending) {
        if (pending != null) {
            Registry.how.set(((Pending) pending).previousHow);
        }
    }

    /** The classic coordinator's rebalance preparation: its commit is the one before a rebalance. */
    public static Object howEnter(String how) {
        String previous = Registry.how.get();
        Registry.how.set(how);
        return new Pending(previous);
    }

    // ---- the classic coordinator's commit requests --------------------------------------------
    /** Every classic commit request (sync, async, auto, before a rebalance, in close()): its
     * claim, written before it is sent; the outcome comes through {@link #outcome}. */
    public static Object classicCommit(Object subscriptions, Object offsets) {
        ConsumerState st = Registry.ofSubscriptions(subscriptions);
        Tracker t = st == null ? null : st.live();
        if (t == null) {
            return null;
        }
        Map<Integer, Long> mapping = offsets(t.topic, offsets);
        if (mapping.isEmpty()) {
            return null;
        }
        synchronized (st) {
            if (st.lastClaimed.get() != offsets) {
                String how = Registry.how.get();
                t.claim(mapping, how == null ? "auto" : how);
                st.lastClaimed = new java.lang.ref.WeakReference<>(offsets);
            }
        }
        return new Outcome(t, mapping);
    }

    /** The outcome of one commit request: a {@code RequestFutureListener} (through a proxy),
     * a {@code CompletableFuture}'s completion, or a background commit's callback. */
    static final class Outcome implements InvocationHandler, BiConsumer<Object, Throwable> {
        final Tracker tracker;
        final Map<Integer, Long> offsets;
        final BiConsumer<Object, Throwable> next;

        Outcome(Tracker tracker, Map<Integer, Long> offsets) {
            this(tracker, offsets, null);
        }

        Outcome(Tracker tracker, Map<Integer, Long> offsets, BiConsumer<Object, Throwable> next) {
            this.tracker = tracker;
            this.offsets = offsets;
            this.next = next;
        }

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) {
            switch (method.getName()) {
                case "onSuccess":
                    tracker.committed(offsets, true, null);
                    return null;
                case "onFailure":
                    tracker.committed(offsets, false, describe((Throwable) args[0]));
                    return null;
                case "hashCode":
                    return System.identityHashCode(proxy);
                case "equals":
                    return proxy == args[0];
                case "toString":
                    return "riverbed commit outcome";
                default:
                    return null;
            }
        }

        @Override
        public void accept(Object result, Throwable error) {
            try {
                Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null
                        ? error.getCause() : error;
                tracker.committed(offsets, error == null, error == null ? null : describe(cause));
            } catch (RuntimeException e) {
                System.err.println("riverbed agent: commit outcome not recorded: " + e);
            }
            if (next != null) {
                next.accept(result, error);
            }
        }
    }

    public static InvocationHandler outcome(Object pending) {
        return (InvocationHandler) pending;
    }

    // ---- the consumer protocol's commit manager (the client's background thread) ---------------
    /** An explicit commit's future (the claim was written by {@link #commitEnter}). */
    public static void backgroundOutcome(Object subscriptions, Object offsets, Object future) {
        ConsumerState st = Registry.ofSubscriptions(subscriptions);
        Tracker t = st == null ? null : st.live();
        if (t == null || !(future instanceof CompletableFuture)) {
            return;
        }
        Map<Integer, Long> mapping = offsets(t.topic, offsets);
        if (!mapping.isEmpty()) {
            ((CompletableFuture<?>) future).whenComplete(new Outcome(t, mapping));
        }
    }

    /** The auto-commit before a rebalance (or in close()): its future. Nothing is committed
     * when auto-commit is off. */
    public static void beforeRebalanceOutcome(Object subscriptions, Object offsets, Object future) {
        ConsumerState st = Registry.ofSubscriptions(subscriptions);
        if (st != null && st.autoCommit) {
            backgroundOutcome(subscriptions, offsets, future);
        }
    }

    /** The auto-commit's own callback, wrapped to record its outcome first. */
    @SuppressWarnings("unchecked")
    public static Object autoCommitCallback(Object subscriptions, Object offsets, Object callback) {
        ConsumerState st = Registry.ofSubscriptions(subscriptions);
        Tracker t = st == null ? null : st.live();
        if (t == null || !(callback instanceof BiConsumer)) {
            return callback;
        }
        Map<Integer, Long> mapping = offsets(t.topic, offsets);
        if (mapping.isEmpty()) {
            return callback;
        }
        return new Outcome(t, mapping, (BiConsumer<Object, Throwable>) callback);
    }

    // ---- position ------------------------------------------------------------------------------
    public static void seek(Object state, String topic, int partition, long offset) {
        Tracker t = live(state);
        if (t != null && t.topic.equals(topic)) {
            t.seek(partition, offset, null);
        }
    }

    /** {@code seekToBeginning} / {@code seekToEnd}: partitions of the data topic (an empty list: all it owns). */
    public static void seekTo(Object state, List<Integer> partitions, boolean all, String whence) {
        Tracker t = live(state);
        if (t == null) {
            return;
        }
        for (Integer p : all ? new ArrayList<>(t.owned()) : partitions) {
            t.seek(p, null, whence);
        }
    }

    public static void paused(Object state, List<Integer> partitions, boolean pause) {
        Tracker t = live(state);
        if (t != null) {
            t.paused(partitions, pause);
        }
    }

    // ---- the end --------------------------------------------------------------------------------
    /** {@code close()} begins (the outermost of its overloads). */
    public static Object closeEnter(Object state) {
        ConsumerState st = (ConsumerState) state;
        Tracker t = live(state);
        if (t == null || st.closing) {
            return null;
        }
        st.closing = true;
        Object token = howEnter("close");
        if (st.autoCommit && st.consumerProtocol()) {
            // The consumer protocol's client commits what it handed out on close, in its own thread.
            t.claim(t.positions(), "close");
        }
        return token;
    }

    public static void closeExit(Object state, Object token, Throwable thrown) {
        if (token == null) {
            return;
        }
        commitExit(token);
        Tracker t = ((ConsumerState) state).tracker;
        if (t != null) {
            if (thrown == null) {
                t.stop("close", null);
            } else {
                t.stop("error", "close() failed: " + thrown);
            }
        }
    }

    // ---- transactions -----------------------------------------------------------------------------
    private static final Map<Object, List<Object[]>> transactions = new WeakHashMap<>();

    /** {@code sendOffsetsToTransaction}: a claim of every consumer of the group in this process. */
    public static void transactionOffsets(Object producer, Object offsets, String groupId) {
        List<Object[]> claims = new ArrayList<>();
        for (Tracker t : Registry.live()) {
            if (t.group == null || !t.group.equals(groupId)) {
                continue;
            }
            Map<Integer, Long> mapping = offsets(t.topic, offsets);
            Map<Integer, Long> mine = new HashMap<>();
            java.util.Set<Integer> owned = t.owned();
            for (Map.Entry<Integer, Long> e : mapping.entrySet()) {
                if (owned.contains(e.getKey())) {
                    mine.put(e.getKey(), e.getValue());
                }
            }
            if (mine.isEmpty()) {
                mine = mapping;
            }
            if (!mine.isEmpty()) {
                t.claim(mine, "transaction");
                claims.add(new Object[] {t, mine});
            }
        }
        synchronized (transactions) {
            transactions.computeIfAbsent(producer, k -> new ArrayList<>()).addAll(claims);
        }
    }

    /** {@code commitTransaction} returned or threw, or {@code abortTransaction} ran. */
    @SuppressWarnings("unchecked")
    public static void transactionEnd(Object producer, boolean ok, String error) {
        List<Object[]> claims;
        synchronized (transactions) {
            claims = transactions.remove(producer);
        }
        if (claims == null) {
            return;
        }
        for (Object[] c : claims) {
            ((Tracker) c[0]).committed((Map<Integer, Long>) c[1], ok, error);
        }
    }

    // ---- Kafka Streams ------------------------------------------------------------------------------
    /** A stream task processed a record (its topology ran to the end for it). */
    public static void streamsProcessed(String topic, int partition, long offset) {
        Registry.mark(topic, partition, offset);
    }

    // ---- reflection ---------------------------------------------------------------------------------
    private static final Map<String, Method> methods = new java.util.concurrent.ConcurrentHashMap<>();

    static Object call(Object target, String name) {
        if (target == null) {
            return null;
        }
        Class<?> cls = target.getClass();
        String key = cls.getName() + "#" + name;
        try {
            Method m = methods.get(key);
            if (m == null) {
                m = find(cls, name);
                m.setAccessible(true);
                methods.put(key, m);
            }
            return m.invoke(target);
        } catch (Exception e) {
            return null;
        }
    }

    private static Method find(Class<?> cls, String name) throws NoSuchMethodException {
        for (Class<?> c = cls; c != null; c = c.getSuperclass()) {
            try {
                return c.getDeclaredMethod(name);
            } catch (NoSuchMethodException e) {
                // look further up
            }
        }
        throw new NoSuchMethodException(cls.getName() + "." + name);
    }

    static Object field(Object target, String name) {
        for (Class<?> c = target.getClass(); c != null; c = c.getSuperclass()) {
            try {
                Field f = c.getDeclaredField(name);
                f.setAccessible(true);
                return f.get(target);
            } catch (NoSuchFieldException e) {
                // look further up
            } catch (Exception e) {
                return null;
            }
        }
        return null;
    }

    /** {partition: offset} of the data topic in a {@code Map<TopicPartition, OffsetAndMetadata>}. */
    static Map<Integer, Long> offsets(String topic, Object offsets) {
        Map<Integer, Long> out = new HashMap<>();
        if (!(offsets instanceof Map)) {
            return out;
        }
        for (Map.Entry<?, ?> e : ((Map<?, ?>) offsets).entrySet()) {
            Object tp = e.getKey();
            if (!topic.equals(call(tp, "topic"))) {
                continue;
            }
            Object value = e.getValue();
            Object offset = value instanceof Number ? value : call(value, "offset");
            Object partition = call(tp, "partition");
            if (offset instanceof Number && partition instanceof Number && ((Number) offset).longValue() >= 0) {
                out.put(((Number) partition).intValue(), ((Number) offset).longValue());
            }
        }
        return out;
    }

    /** Partitions of the data topic among {@code TopicPartition}s. */
    static List<Integer> partitions(String topic, Collection<?> tps) {
        List<Integer> out = new ArrayList<>();
        if (tps == null) {
            return out;
        }
        for (Object tp : tps) {
            if (topic.equals(call(tp, "topic"))) {
                Object p = call(tp, "partition");
                if (p instanceof Number) {
                    out.add(((Number) p).intValue());
                }
            }
        }
        return out;
    }

    public static List<Integer> dataPartitions(Object state, Collection<?> tps) {
        Tracker t = live(state);
        return t == null ? new ArrayList<>() : partitions(t.topic, tps);
    }

    static String describe(Throwable e) {
        if (e == null) {
            return null;
        }
        String msg = e.getMessage();
        return e.getClass().getSimpleName() + (msg == null ? "" : ": " + msg);
    }
}
