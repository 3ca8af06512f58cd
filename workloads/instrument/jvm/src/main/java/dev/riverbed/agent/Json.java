package dev.riverbed.agent;

import java.util.Collection;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/** Evidence lines as compact JSON, the bytes the Python layer writes ({@code "v"} first). */
final class Json {
    private final StringBuilder sb = new StringBuilder(160);
    private boolean first = true;

    private Json() {}

    /** A line of record type {@code type} for {@code member}: {"v":1,"type":…,"member":…}. */
    static Json line(String type, String member) {
        Json j = new Json();
        j.sb.append("{\"v\":1");
        j.first = false;
        j.str("type", type).str("member", member);
        return j;
    }

    private StringBuilder key(String name) {
        if (!first) {
            sb.append(',');
        }
        first = false;
        quote(sb, name);
        return sb.append(':');
    }

    Json str(String name, String value) {
        if (value == null) {
            key(name).append("null");
        } else {
            quote(key(name), value);
        }
        return this;
    }

    /** An extension field: written only when it has a value. */
    Json optStr(String name, String value) {
        return value == null ? this : str(name, value);
    }

    Json num(String name, long value) {
        key(name).append(value);
        return this;
    }

    Json optNum(String name, Long value) {
        return value == null ? this : num(name, value);
    }

    Json intOrNull(String name, Integer value) {
        key(name).append(value == null ? "null" : value.toString());
        return this;
    }

    Json time(String name, double t) {
        time(key(name), t);
        return this;
    }

    Json dbl(String name, double value) {
        key(name).append(value);
        return this;
    }

    Json bool(String name, boolean value) {
        key(name).append(value);
        return this;
    }

    Json ints(String name, Collection<Integer> values) {
        StringBuilder b = key(name).append('[');
        boolean f = true;
        for (Integer v : new java.util.TreeSet<>(values)) {
            if (!f) {
                b.append(',');
            }
            f = false;
            b.append(v);
        }
        b.append(']');
        return this;
    }

    /** {partition (as a string): offset}, in partition order. */
    Json offsets(String name, Map<Integer, Long> offsets) {
        StringBuilder b = key(name).append('{');
        boolean f = true;
        SortedMap<Integer, Long> sorted = new TreeMap<>(offsets);
        for (Map.Entry<Integer, Long> e : sorted.entrySet()) {
            if (!f) {
                b.append(',');
            }
            f = false;
            b.append('"').append(e.getKey()).append("\":").append(e.getValue());
        }
        b.append('}');
        return this;
    }

    String end() {
        return sb.append("}\n").toString();
    }

    /** Seconds since the epoch with microseconds, as a plain JSON number (never in E notation). */
    static void time(StringBuilder b, double t) {
        long micros = Math.round(t * 1_000_000d);
        long secs = micros / 1_000_000;
        long frac = micros % 1_000_000;
        b.append(secs).append('.');
        String f = Long.toString(frac);
        for (int i = f.length(); i < 6; i++) {
            b.append('0');
        }
        b.append(f);
    }

    static void quote(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        b.append('"');
    }
}
