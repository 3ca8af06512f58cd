package dev.riverbed.agent;

import static net.bytebuddy.matcher.ElementMatchers.isConstructor;
import static net.bytebuddy.matcher.ElementMatchers.isPublic;
import static net.bytebuddy.matcher.ElementMatchers.named;
import static net.bytebuddy.matcher.ElementMatchers.nameStartsWith;
import static net.bytebuddy.matcher.ElementMatchers.takesArgument;
import static net.bytebuddy.matcher.ElementMatchers.takesArguments;

import dev.riverbed.agent.advice.ClientInternalsAdvice;
import dev.riverbed.agent.advice.ConsumerAdvice;
import dev.riverbed.agent.advice.ProducerAdvice;
import dev.riverbed.agent.advice.StreamsAdvice;
import java.lang.instrument.Instrumentation;
import net.bytebuddy.agent.builder.AgentBuilder;
import net.bytebuddy.description.modifier.Visibility;
import net.bytebuddy.description.type.TypeDescription;
import net.bytebuddy.dynamic.ClassFileLocator;
import net.bytebuddy.utility.JavaModule;

/**
 * riverbed's Java agent ({@code -javaagent:riverbed-agent.jar}, which riverbed puts in
 * {@code JAVA_TOOL_OPTIONS} for a JVM {@code --consumer-cmd}). With
 * {@code RIVERBED_INSTRUMENT=1} it instruments kafka-clients' {@code KafkaConsumer} (and what
 * it commits through), {@code KafkaProducer}'s transactional offset commits and Kafka Streams'
 * stream tasks as the application loads them, and writes what the consumers of the group
 * under test did to {@code $RIVERBED_EVIDENCE_DIR/consumed/<member>.jsonl}. Without it, the
 * agent does nothing.
 */
public final class Agent {
    private Agent() {}

    public static void premain(String args, Instrumentation inst) {
        Settings settings;
        try {
            settings = Settings.fromEnv(System.getenv());
        } catch (RuntimeException e) {
            System.err.println("riverbed agent not installed: " + e.getMessage());
            return;
        }
        if (settings == null) {
            return;
        }
        Registry.settings = settings;
        try {
            install(inst);
            Registry.installShutdownHook(inst);
        } catch (RuntimeException | LinkageError e) {
            // Never stop the user's program over its instrumentation.
            System.err.println("riverbed agent not installed: " + e);
        }
    }

    public static void agentmain(String args, Instrumentation inst) {
        premain(args, inst);
    }

    static void install(Instrumentation inst) {
        // Advice is read from the agent's jar and resolved against the application's class
        // loader, where kafka-clients is (it may not be on the system class path).
        ClassFileLocator agentClasses = ClassFileLocator.ForClassLoader.of(Agent.class.getClassLoader());
        AgentBuilder.Transformer.ForAdvice consumer = advice(agentClasses)
                .advice(isConstructor().and(takesArguments(3))
                        .and(takesArgument(0, named("org.apache.kafka.clients.consumer.ConsumerConfig"))),
                        name(ConsumerAdvice.Created.class))
                .advice(named("subscribe").and(takesArguments(2)).and(takesArgument(0, named("java.util.Collection"))),
                        name(ConsumerAdvice.SubscribeTopics.class))
                .advice(named("subscribe").and(takesArguments(2)).and(takesArgument(0, named("java.util.regex.Pattern"))),
                        name(ConsumerAdvice.SubscribePattern.class))
                .advice(named("subscribe").and(takesArguments(2))
                        .and(takesArgument(0, named("org.apache.kafka.clients.consumer.SubscriptionPattern"))),
                        name(ConsumerAdvice.SubscribeRegex.class))
                .advice(named("subscribe").and(takesArguments(1)).and(takesArgument(0, named("java.util.Collection"))),
                        name(ConsumerAdvice.SubscribeTopicsOnly.class))
                .advice(named("subscribe").and(takesArguments(1)).and(takesArgument(0, named("java.util.regex.Pattern"))),
                        name(ConsumerAdvice.SubscribePatternOnly.class))
                .advice(named("subscribe").and(takesArguments(1))
                        .and(takesArgument(0, named("org.apache.kafka.clients.consumer.SubscriptionPattern"))),
                        name(ConsumerAdvice.SubscribeRegexOnly.class))
                .advice(named("poll").and(takesArguments(1)).and(takesArgument(0, named("java.time.Duration"))),
                        name(ConsumerAdvice.Poll.class))
                .advice(named("commitSync").and(isPublic()), name(ConsumerAdvice.CommitSync.class))
                .advice(named("commitAsync").and(isPublic()), name(ConsumerAdvice.CommitAsync.class))
                .advice(named("seek").and(takesArguments(2)).and(takesArgument(1, long.class)),
                        name(ConsumerAdvice.SeekOffset.class))
                .advice(named("seek").and(takesArguments(2))
                        .and(takesArgument(1, named("org.apache.kafka.clients.consumer.OffsetAndMetadata"))),
                        name(ConsumerAdvice.SeekMetadata.class))
                .advice(named("seekToBeginning"), name(ConsumerAdvice.SeekToBeginning.class))
                .advice(named("seekToEnd"), name(ConsumerAdvice.SeekToEnd.class))
                .advice(named("pause"), name(ConsumerAdvice.Pause.class))
                .advice(named("resume"), name(ConsumerAdvice.Resume.class))
                .advice(named("close").and(isPublic()), name(ConsumerAdvice.Close.class));

        new AgentBuilder.Default()
                .with(AgentBuilder.RedefinitionStrategy.DISABLED)
                .with(new AgentBuilder.Listener.Adapter() {
                    @Override
                    public void onError(String typeName, ClassLoader loader, JavaModule module, boolean loaded,
                                        Throwable throwable) {
                        System.err.println("riverbed agent: could not instrument " + typeName + ": " + throwable);
                    }
                })
                .ignore(nameStartsWith("dev.riverbed.agent.").or(nameStartsWith("net.bytebuddy.")))
                .type(named("org.apache.kafka.clients.consumer.KafkaConsumer"))
                .transform((builder, type, loader, module, domain) ->
                        builder.defineField(ConsumerAdvice.FIELD, Object.class, Visibility.PUBLIC))
                .transform(consumer)
                .type(named("org.apache.kafka.clients.consumer.internals.ConsumerCoordinator"))
                .transform(advice(agentClasses)
                        .advice(named("sendOffsetCommitRequest").and(takesArguments(1)),
                                name(ClientInternalsAdvice.ClassicCommitRequest.class))
                        .advice(named("onJoinPrepare"), name(ClientInternalsAdvice.JoinPrepare.class)))
                .type(named("org.apache.kafka.clients.consumer.internals.CommitRequestManager"))
                .transform(advice(agentClasses)
                        .advice(named("commitSync").or(named("commitAsync")).and(isPublic())
                                .and(takesArgument(0, named("java.util.Map"))),
                                name(ClientInternalsAdvice.BackgroundCommit.class))
                        .advice(named("autoCommitCallback").and(takesArguments(1)),
                                name(ClientInternalsAdvice.AutoCommitCallback.class))
                        .advice(named("maybeAutoCommitSyncBeforeRebalance"),
                                name(ClientInternalsAdvice.BeforeRebalance.class)))
                .type(named("org.apache.kafka.clients.producer.KafkaProducer"))
                .transform(advice(agentClasses)
                        .advice(named("sendOffsetsToTransaction").and(takesArguments(2)),
                                name(ProducerAdvice.SendOffsets.class))
                        .advice(named("commitTransaction"), name(ProducerAdvice.Commit.class))
                        .advice(named("abortTransaction"), name(ProducerAdvice.Abort.class)))
                .type(named("org.apache.kafka.streams.processor.internals.StreamTask"))
                .transform(advice(agentClasses)
                        .advice(named("doProcess").and(takesArguments(1)), name(StreamsAdvice.Processed.class)))
                .installOn(inst);
    }

    private static AgentBuilder.Transformer.ForAdvice advice(ClassFileLocator agentClasses) {
        return new AgentBuilder.Transformer.ForAdvice()
                .include(agentClasses)
                .withExceptionHandler(net.bytebuddy.asm.Advice.ExceptionHandler.Default.PRINTING);
    }

    private static String name(Class<?> advice) {
        return advice.getName();
    }

    /** For tests and logs: whether a type would be instrumented. */
    static boolean instruments(TypeDescription type) {
        return type.getName().startsWith("org.apache.kafka.");
    }
}
