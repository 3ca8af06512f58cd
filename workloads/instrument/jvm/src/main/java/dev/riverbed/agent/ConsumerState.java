package dev.riverbed.agent;

import java.lang.ref.WeakReference;

/** What the agent knows of one {@code KafkaConsumer}: its settings, and its tracker once it
 * subscribes to the data topic as a member of the group under test. */
public final class ConsumerState {
    final String group;
    final String clientId;
    final String clientVersion;
    final boolean autoCommit;
    /** {@code classic} or {@code consumer} (KIP-848). */
    final String protocol;
    /** Made by a Kafka Streams stream thread: its tasks finish records, not its polls. */
    final boolean streams;
    final Object consumer;
    volatile Tracker tracker;
    /** The offsets map of the last classic commit claimed (its retries are one claim). */
    WeakReference<Object> lastClaimed = new WeakReference<>(null);
    /** Inside close(): callbacks and commits belong to the close. */
    volatile boolean closing;

    ConsumerState(Object consumer, String group, String clientId, String clientVersion, boolean autoCommit,
                  String protocol, boolean streams) {
        this.consumer = consumer;
        this.group = group;
        this.clientId = clientId;
        this.clientVersion = clientVersion;
        this.autoCommit = autoCommit;
        this.protocol = protocol;
        this.streams = streams;
    }

    boolean consumerProtocol() {
        return "consumer".equals(protocol);
    }

    /** The live tracker, or null. */
    Tracker live() {
        Tracker t = tracker;
        return t != null && t.started && !t.stopped ? t : null;
    }
}
