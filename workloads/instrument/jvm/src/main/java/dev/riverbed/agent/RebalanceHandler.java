package dev.riverbed.agent;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.Collection;
import java.util.List;

/**
 * The {@code ConsumerRebalanceListener} a recorded consumer gets: it records ownership and
 * calls the application's own listener (Spring's container, Kafka Streams' or the user's) in
 * the order the client calls it. {@code assigned} is written before the application's
 * callback runs (it may seek or read), {@code revoked} / {@code lost} after it (it may commit
 * what it processed, and those commits belong to the ownership that ends).
 */
final class RebalanceHandler implements InvocationHandler {
    final ConsumerState state;
    final Tracker tracker;
    final Object consumer;
    final Object user;

    RebalanceHandler(ConsumerState state, Tracker tracker, Object consumer, Object user) {
        this.state = state;
        this.tracker = tracker;
        this.consumer = consumer;
        this.user = user;
    }

    @Override
    public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
        String name = method.getName();
        switch (name) {
            case "onPartitionsAssigned":
                record("assigned", args[0]);
                return callUser(method, args);
            case "onPartitionsRevoked":
            case "onPartitionsLost":
                try {
                    return callUser(method, args);
                } finally {
                    record(name.equals("onPartitionsLost") ? "lost" : "revoked", args[0]);
                }
            case "hashCode":
                return System.identityHashCode(proxy);
            case "equals":
                return proxy == args[0];
            case "toString":
                return "riverbed listener around " + user;
            default:
                return callUser(method, args);
        }
    }

    private Object callUser(Method method, Object[] args) throws Throwable {
        if (user == null) {
            return null;
        }
        try {
            return method.invoke(user, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private void record(String kind, Object tps) {
        try {
            List<Integer> parts = Hooks.partitions(tracker.topic, (Collection<?>) tps);
            Object metadata = Hooks.call(consumer, "groupMetadata");
            Object gen = Hooks.call(metadata, "generationId");
            Integer generation = gen instanceof Number && ((Number) gen).intValue() >= 0
                    ? ((Number) gen).intValue() : null;
            if ("assigned".equals(kind)) {
                Object memberId = Hooks.call(metadata, "memberId");
                String id = memberId == null || memberId.toString().isEmpty() ? null : memberId.toString();
                tracker.assigned(parts, generation, id);
            } else {
                tracker.revoked(kind, parts, generation);
            }
        } catch (RuntimeException e) {
            System.err.println("riverbed agent: " + kind + " not recorded: " + e);
        }
    }
}
