package dev.riverbed.agent;

import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** Where evidence goes and who this process is: the environment riverbed gives it. */
public final class Settings {
    /** {@code $RIVERBED_EVIDENCE_DIR}: the run's {@code evidence/} directory. */
    public final String evidenceDir;
    /** {@code $RIVERBED_TOPIC} (else {@code $KAFKA_TOPIC}): only this topic's records are evidence. */
    public final String topic;
    /** {@code $RIVERBED_MEMBER}: the evidence identity riverbed gave this incarnation. */
    public final String member;
    /** {@code $RIVERBED_REPLICA}: the replica's stable name. */
    public final String replica;
    /** {@code $RIVERBED_INCARNATION}: which start of the replica this is (null: unknown). */
    public final Integer incarnation;
    /** {@code $RIVERBED_GROUP} (else {@code $KAFKA_GROUP}): only members of this group are recorded. */
    public final String group;
    /** How late hand-outs and finished records may be written (the same window as the Python layer's). */
    public final double flushS = 0.010;

    Settings(String evidenceDir, String topic, String member, String replica, Integer incarnation, String group) {
        this.evidenceDir = evidenceDir;
        this.topic = topic;
        this.member = member;
        this.replica = replica;
        this.incarnation = incarnation;
        this.group = group;
    }

    /** The settings of this process, or null when riverbed did not ask for evidence. */
    public static Settings fromEnv(Map<String, String> env) {
        if (!"1".equals(env.get("RIVERBED_INSTRUMENT"))) {
            return null;
        }
        String dir = env.getOrDefault("RIVERBED_EVIDENCE_DIR", "");
        String topic = firstOf(env.get("RIVERBED_TOPIC"), env.get("KAFKA_TOPIC"));
        if (dir.isEmpty() || topic == null) {
            throw new IllegalStateException("RIVERBED_EVIDENCE_DIR and RIVERBED_TOPIC must be set");
        }
        String replica = firstOf(env.get("RIVERBED_REPLICA"), hostname().split("\\.")[0], "consumer");
        Integer incarnation = null;
        try {
            incarnation = Integer.valueOf(env.get("RIVERBED_INCARNATION"));
        } catch (RuntimeException ignored) {
            // absent or not a number: unknown
        }
        String member = firstOf(env.get("RIVERBED_MEMBER"), replica + "-" + ProcessHandle.current().pid());
        String group = firstOf(env.get("RIVERBED_GROUP"), env.get("KAFKA_GROUP"));
        return new Settings(dir, topic, member, replica, incarnation, group);
    }

    /** Whether a consumer of {@code group} that subscribes to the data topic (or not) is the system under test. */
    public boolean records(String consumerGroup, boolean topicMatch) {
        if (!topicMatch || consumerGroup == null || consumerGroup.isEmpty()) {
            return false;
        }
        return group == null || group.equals(consumerGroup);
    }

    static String firstOf(String... values) {
        for (String v : values) {
            if (v != null && !v.isEmpty()) {
                return v;
            }
        }
        return null;
    }

    /** The host name as the kernel has it (no DNS lookup). */
    static String hostname() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/hostname")).trim();
        } catch (Exception e) {
            try {
                return InetAddress.getLocalHost().getHostName();
            } catch (Exception e2) {
                return "localhost";
            }
        }
    }

    /** The process group of this process (Linux), or null. */
    static Long pgid() {
        try {
            String stat = Files.readString(Path.of("/proc/self/stat"));
            // pid (comm) state ppid pgrp ...: comm may hold spaces, so count after its ')'.
            String[] rest = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.valueOf(rest[2]);
        } catch (Exception e) {
            return null;
        }
    }
}
