package dev.riverbed.examples;

/** {@code java -jar riverbed-jvm-examples.jar EXAMPLE}: runs one example consumer. */
public final class Main {
    private Main() {}

    public static void main(String[] args) throws Exception {
        String example = args.length > 0 ? args[0] : "";
        switch (example) {
            case "plain-careful" -> PlainCareful.run();
            case "plain-commit-first" -> PlainCommitFirst.run();
            case "spring-listener" -> SpringListener.run(false);
            case "spring-ack-first" -> SpringListener.run(true);
            case "streams" -> StreamsApp.run();
            case "probe" -> Probe.run(args);
            case "bench-poll" -> Bench.run();
            default -> {
                System.err.println("usage: java -jar riverbed-jvm-examples.jar "
                        + "plain-careful|plain-commit-first|spring-listener|spring-ack-first|streams");
                System.exit(2);
            }
        }
    }
}
