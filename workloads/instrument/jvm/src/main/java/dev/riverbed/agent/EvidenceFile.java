package dev.riverbed.agent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * {@code <dir>/consumed/<member>.jsonl}, claimed exclusively by one consumer. The first
 * consumer of a process gets the member name riverbed assigned; another one (a second group
 * consumer in the same JVM) gets {@code <member>.c2}, {@code <member>.c3}, …. Every write
 * hands its bytes to the operating system before it returns, so a SIGKILL loses nothing
 * already written.
 */
final class EvidenceFile {
    final String member;
    private FileChannel channel;

    EvidenceFile(String directory, String member) throws IOException {
        Path consumed = Path.of(directory, "consumed");
        Files.createDirectories(consumed);
        int n = 1;
        String name = member;
        while (true) {
            name = n == 1 ? member : member + ".c" + n;
            try {
                channel = FileChannel.open(consumed.resolve(name + ".jsonl"),
                        StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
                break;
            } catch (FileAlreadyExistsException e) {
                n++;
            }
        }
        this.member = name;
    }

    synchronized void write(CharSequence lines) {
        if (channel == null || lines.length() == 0) {
            return;
        }
        ByteBuffer buf = ByteBuffer.wrap(lines.toString().getBytes(StandardCharsets.UTF_8));
        try {
            while (buf.hasRemaining()) {
                channel.write(buf);
            }
        } catch (IOException e) {
            System.err.println("riverbed agent: evidence not written: " + e);
        }
    }

    synchronized void close() {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // nothing more to write
            }
            channel = null;
        }
    }
}
