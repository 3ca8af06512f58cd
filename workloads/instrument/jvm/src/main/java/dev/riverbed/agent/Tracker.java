package dev.riverbed.agent;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What one instrumented consumer (one group member) handed to its application, what it
 * finished, and what it claimed: the rules of the Python layer's tracker, line for line
 * (docs/consumers.md, "What the evidence says").
 *
 * <ul>
 *   <li><em>handed</em>: {@code poll()} returned records;
 *   <li><em>finished</em>: the application came back for more (its next {@code poll()})
 *       after records of a partition it has not paused, or marked them with
 *       {@link dev.riverbed.Processed}. A tracker in marker mode (the application uses the
 *       marker, or Kafka Streams, whose tasks process what it buffered long after the poll)
 *       finishes records only by marks;
 *   <li><em>claimed</em>: a commit, the commit {@code close()} makes, an auto-commit, the
 *       commit before a rebalance or a transaction's offsets are about to be sent. A claim
 *       is never processing;
 *   <li><em>sought back</em>: records in hand at or past a new position go back.
 * </ul>
 *
 * <p>Writes: every line reaches the operating system before any commit request leaves the
 * process (a claim writes what is pending first), and records a claim covered are written
 * the moment they are finished. Otherwise hand-outs and finished records are written at
 * most {@code flush_ms} after the last write: at the application's next call, or by the
 * flush thread when it makes none (it holds a batch, or stalls).
 *
 * <p>Every method may be called from the application's thread, the client's background
 * thread or the application's workers (the marker): one lock orders state and lines.
 */
public final class Tracker {
    static final String CAME_BACK = "came-back";
    static final String MARKED = "marked";

    /** A run of records of one partition handed in one call. */
    private static final class Span {
        long first;
        long last;
        final double tHanded;
        boolean claimed;
        long written;

        Span(long first, long last, double tHanded) {
            this.first = first;
            this.last = last;
            this.tHanded = tHanded;
            this.written = first;
        }
    }

    /** Finished records not written yet: first..last, handed at tHanded, finished at t. */
    private static final class Fin {
        final long first;
        long last;
        final double tHanded;
        double t;
        final String how;

        Fin(long first, long last, double tHanded, double t, String how) {
            this.first = first;
            this.last = last;
            this.tHanded = tHanded;
            this.t = t;
            this.how = how;
        }
    }

    final Settings settings;
    public final String topic;
    final String group;
    final String clientId;
    final String clientVersion;
    final String groupProtocol;
    final boolean autoCommit;
    final boolean backgroundCommits;
    final boolean autoOffsetStore;
    /** Only marks finish records (the application uses the marker, or Kafka Streams). */
    volatile boolean markerMode;

    private String member;
    private EvidenceFile file;
    volatile boolean started;
    volatile boolean stopped;
    private Integer generation;
    private final Set<Integer> owned = new HashSet<>();
    private final Map<Integer, List<Span>> hand = new LinkedHashMap<>();
    private final Map<Integer, Fin> fin = new LinkedHashMap<>();
    private final StringBuilder lines = new StringBuilder();
    private final Set<Integer> paused = new HashSet<>();
    private final Map<Integer, Long> lastHanded = new HashMap<>();
    private double due;
    private boolean urgent;

    Tracker(Settings settings, String clientId, String clientVersion, String group, String groupProtocol,
            boolean autoCommit, boolean backgroundCommits, boolean autoOffsetStore, boolean markerMode) {
        this.settings = settings;
        this.topic = settings.topic;
        this.member = settings.member;
        this.clientId = clientId;
        this.clientVersion = clientVersion;
        this.group = group;
        this.groupProtocol = groupProtocol;
        this.autoCommit = autoCommit;
        this.backgroundCommits = backgroundCommits;
        this.autoOffsetStore = autoOffsetStore;
        this.markerMode = markerMode;
    }

    /** Now, in seconds since the epoch (microseconds). */
    public static double now() {
        java.time.Instant i = java.time.Instant.now();
        return i.getEpochSecond() + i.getNano() / 1e9;
    }

    // ---- lifecycle -------------------------------------------------------------------------
    /** Claim the evidence file and write {@code start} (once). */
    synchronized void start() throws IOException {
        if (started) {
            return;
        }
        file = new EvidenceFile(settings.evidenceDir, settings.member);
        member = file.member;
        started = true;
        Json j = Json.line("start", member)
                .str("replica", settings.replica)
                .num("pid", ProcessHandle.current().pid())
                .str("host", Settings.hostname())
                .time("t", now())
                .str("commit_mode", autoCommit ? "auto" : "manual")
                .optStr("group", group)
                .str("topic", topic)
                .str("client", "kafka-clients")
                .optStr("group_protocol", groupProtocol)
                .optStr("client_version", clientVersion)
                .optStr("client_id", clientId)
                .optNum("pgid", Settings.pgid())
                .bool("instrumented", true)
                .dbl("flush_ms", settings.flushS * 1000);
        if (backgroundCommits) {
            j.bool("background_commits", true);
        }
        if (autoOffsetStore) {
            j.bool("auto_offset_store", true);
        }
        if (settings.incarnation != null) {
            j.num("incarnation", settings.incarnation);
        }
        file.write(j.end());
        due = now() + settings.flushS;
        Registry.register(this);
    }

    /** Write what is pending and {@code stop}, and close the file. Records still in hand stay unfinished. */
    synchronized void stop(String reason, String detail) {
        if (!started || stopped) {
            return;
        }
        stopped = true;
        Json j = Json.line("stop", member).str("reason", reason).time("t", now()).optStr("detail", detail);
        emit(j.end());
        file.close();
        Registry.unregister(this);
    }

    public String member() {
        return member;
    }

    /** Write what is pending if it is due (the flush thread, between the application's calls). */
    synchronized void flushIfDue(double t) {
        if (started && !stopped && t >= due) {
            write(t);
        }
    }

    // ---- records ---------------------------------------------------------------------------
    /** The application asks for more: what it holds of unpaused partitions is finished. */
    public synchronized void cameBack(double t) {
        if (stopped || !started) {
            return;
        }
        if (!hand.isEmpty()) {
            back(t);
        }
        if (t >= due || urgent) {
            write(t);
        }
    }

    /** Records handed in one call: {@code spans} holds (partition, first, last) triples. */
    public synchronized void hand(long[] spans, int n, double t) {
        if (stopped || !started) {
            return;
        }
        for (int i = 0; i < n; i += 3) {
            int p = (int) spans[i];
            long first = spans[i + 1];
            long last = spans[i + 2];
            lastHanded.put(p, last);
            List<Span> held = hand.get(p);
            if (held == null) {
                held = new ArrayList<>(2);
                hand.put(p, held);
                held.add(new Span(first, last, t));
            } else {
                add(p, held, first, last, t);
            }
        }
        if (t >= due || urgent) {
            write(t);
        }
    }

    /** {partition: offset after the last record handed} of the partitions it owns. */
    public synchronized Map<Integer, Long> positions() {
        Map<Integer, Long> out = new HashMap<>();
        for (Map.Entry<Integer, Long> e : lastHanded.entrySet()) {
            if (owned.isEmpty() || owned.contains(e.getKey())) {
                out.put(e.getKey(), e.getValue() + 1);
            }
        }
        return out;
    }

    /** The application says it finished the record at {@code offset}. False when this tracker never handed it out. */
    public synchronized boolean mark(int partition, long offset) {
        if (stopped || !started) {
            return false;
        }
        List<Span> spans = hand.get(partition);
        if (spans == null) {
            return false;
        }
        int i = 0;
        for (; i < spans.size(); i++) {
            Span s = spans.get(i);
            if (s.first <= offset && offset <= s.last) {
                break;
            }
        }
        if (i == spans.size()) {
            return false;
        }
        Span span = spans.remove(i);
        double t = now();
        List<Span> rest = new ArrayList<>(2);
        if (span.first < offset) {
            Span a = new Span(span.first, offset - 1, span.tHanded);
            a.claimed = span.claimed;
            a.written = span.written;
            rest.add(a);
        }
        if (offset < span.last) {
            Span b = new Span(offset + 1, span.last, span.tHanded);
            b.claimed = span.claimed;
            b.written = Math.max(span.written, offset + 1);
            rest.add(b);
        }
        spans.addAll(i, rest);
        if (spans.isEmpty()) {
            hand.remove(partition);
        }
        finish(partition, offset, offset, span.tHanded, t, MARKED);
        if (span.claimed) {
            urgent = true;
        }
        if (t >= due || urgent) {
            write(t);
        }
        return true;
    }

    // ---- claims and their outcomes ---------------------------------------------------------
    /** A commit ({@code how}: commit, commit-async, auto, close, rebalance, transaction) of
     * {partition: next offset} is about to be made: write what is pending, then the claim. */
    public synchronized void claim(Map<Integer, Long> offsets, String how) {
        if (offsets == null || offsets.isEmpty() || stopped || !started) {
            return;
        }
        double t = now();
        boolean covered = false;
        for (Map.Entry<Integer, Long> e : offsets.entrySet()) {
            List<Span> spans = hand.get(e.getKey());
            if (spans == null) {
                continue;
            }
            for (Span s : spans) {
                if (s.first < e.getValue()) {
                    s.claimed = true;
                    covered = true;
                }
            }
        }
        emit(Json.line("committing", member).offsets("offsets", offsets).str("how", how).time("t", t).end());
        if (covered) {
            due = 0; // coming back for them is written at once
        }
    }

    /** The outcome of one commit attempt. */
    public synchronized void committed(Map<Integer, Long> offsets, boolean ok, String error) {
        if (offsets == null || offsets.isEmpty() || stopped || !started) {
            return;
        }
        Json j = Json.line("committed", member).offsets("offsets", offsets).bool("ok", ok).time("t", now());
        if (!ok && error != null) {
            j.str("error", error.length() > 500 ? error.substring(0, 500) : error);
        }
        emit(j.end());
    }

    // ---- the application's position ---------------------------------------------------------
    /** The application moved its position: records in hand at or past {@code offset} (all of
     * them for a seek to the beginning or end: null) go back, unfinished. */
    public synchronized void seek(int partition, Long offset, String whence) {
        if (stopped || !started) {
            return;
        }
        List<Span> spans = hand.get(partition);
        if (spans != null) {
            Iterator<Span> it = spans.iterator();
            while (it.hasNext()) {
                Span s = it.next();
                if (offset == null || s.first >= offset) {
                    it.remove();
                } else if (s.last >= offset) {
                    s.last = offset - 1;
                }
            }
            if (spans.isEmpty()) {
                hand.remove(partition);
            }
        }
        if (offset != null) {
            lastHanded.put(partition, offset - 1);
        } else {
            lastHanded.remove(partition);
        }
        Json j = Json.line("seek", member).num("partition", partition);
        if (offset == null) {
            j.str("offset", null);
        } else {
            j.num("offset", offset);
        }
        emit(j.time("t", now()).optStr("whence", whence).end());
    }

    public synchronized void paused(List<Integer> partitions, boolean pause) {
        if (partitions.isEmpty() || stopped || !started) {
            return;
        }
        if (pause) {
            paused.addAll(partitions);
        } else {
            paused.removeAll(partitions);
        }
        emit(Json.line(pause ? "paused" : "resumed", member).ints("partitions", partitions).time("t", now()).end());
    }

    // ---- ownership ---------------------------------------------------------------------------
    public synchronized void assigned(List<Integer> partitions, Integer gen, String memberId) {
        if (stopped || !started) {
            return;
        }
        if (gen != null) {
            generation = gen;
        }
        owned.addAll(partitions);
        Json j = Json.line("assigned", member).intOrNull("generation", gen == null ? generation : gen)
                .ints("partitions", partitions).time("t", now()).optStr("member_id", memberId)
                .optStr("client_id", clientId);
        emit(j.end());
    }

    /** {@code revoked} or {@code lost}. A revoke of nothing is not written. */
    public synchronized void revoked(String kind, List<Integer> partitions, Integer gen) {
        if (partitions.isEmpty() || stopped || !started) {
            return;
        }
        if ("lost".equals(kind) || gen == null || gen < 0) {
            // After a lost membership the client has reset its generation: the partitions
            // belonged to the last one this member joined.
            gen = generation;
        }
        owned.removeAll(partitions);
        paused.removeAll(partitions);
        for (Integer p : partitions) {
            lastHanded.remove(p);
        }
        emit(Json.line(kind, member).intOrNull("generation", gen).ints("partitions", partitions)
                .time("t", now()).end());
    }

    synchronized Set<Integer> owned() {
        return new HashSet<>(owned);
    }

    // ---- internals (lock held) -----------------------------------------------------------------
    private void add(int p, List<Span> spans, long first, long last, double t) {
        Span tail = spans.get(spans.size() - 1);
        if (first == tail.last + 1 && !tail.claimed) {
            tail.last = last;
            return;
        }
        if (first <= tail.last) {
            // Handed again from an earlier position (the client reset it, e.g. to the
            // committed offset after a rebalance): what is in hand from there went back.
            spans.removeIf(s -> s.first >= first);
            for (Span s : spans) {
                if (s.last >= first) {
                    s.last = first - 1;
                }
            }
        }
        spans.add(new Span(first, last, t));
    }

    private void back(double t) {
        if (markerMode) {
            return;
        }
        Iterator<Map.Entry<Integer, List<Span>>> it = hand.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<Integer, List<Span>> e = it.next();
            int p = e.getKey();
            if (paused.contains(p)) {
                continue;
            }
            for (Span s : e.getValue()) {
                finish(p, s.first, s.last, s.tHanded, t, CAME_BACK);
                if (s.claimed) {
                    urgent = true;
                }
            }
            it.remove();
        }
    }

    private void finish(int p, long first, long last, double tHanded, double t, String how) {
        Fin pending = fin.get(p);
        if (pending != null) {
            if (pending.last + 1 == first && pending.how.equals(how)) {
                pending.last = last;
                pending.t = t;
                return;
            }
            finishedLine(p, pending);
        }
        fin.put(p, new Fin(first, last, tHanded, t, how));
    }

    private void finishedLine(int p, Fin f) {
        lines.append("{\"v\":1,\"type\":\"finished\",\"member\":");
        Json.quote(lines, member);
        lines.append(",\"partition\":").append(p).append(",\"first\":").append(f.first)
                .append(",\"last\":").append(f.last).append(",\"how\":\"").append(f.how).append("\",\"t\":");
        Json.time(lines, f.t);
        lines.append(",\"t_handed\":");
        Json.time(lines, f.tHanded);
        lines.append("}\n");
    }

    /** Every pending line, in the order things happened: finished, then handed. */
    private void pending() {
        for (Map.Entry<Integer, Fin> e : fin.entrySet()) {
            finishedLine(e.getKey(), e.getValue());
        }
        fin.clear();
        for (Map.Entry<Integer, List<Span>> e : hand.entrySet()) {
            for (Span s : e.getValue()) {
                if (s.written <= s.last) {
                    lines.append("{\"v\":1,\"type\":\"handed\",\"member\":");
                    Json.quote(lines, member);
                    lines.append(",\"partition\":").append(e.getKey()).append(",\"first\":").append(s.written)
                            .append(",\"last\":").append(s.last).append(",\"t\":");
                    Json.time(lines, s.tHanded);
                    lines.append("}\n");
                    s.written = s.last + 1;
                }
            }
        }
    }

    private void write(double t) {
        pending();
        urgent = false;
        due = t + settings.flushS;
        if (lines.length() > 0) {
            file.write(lines);
            lines.setLength(0);
        }
    }

    /** Write what is pending, then {@code record}. */
    private void emit(String record) {
        pending();
        lines.append(record);
        urgent = false;
        due = now() + settings.flushS;
        file.write(lines);
        lines.setLength(0);
    }
}
