package dev.riverbed.agent.advice;

import dev.riverbed.agent.Hooks;
import java.lang.reflect.Proxy;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import net.bytebuddy.asm.Advice;
import net.bytebuddy.implementation.bytecode.assign.Assigner;
import org.apache.kafka.clients.consumer.internals.RequestFuture;
import org.apache.kafka.clients.consumer.internals.RequestFutureListener;
import org.apache.kafka.clients.consumer.internals.SubscriptionState;

/**
 * Advice inlined into kafka-clients' internals, for the commits a consumer makes without a
 * call of the application's: the classic coordinator's (auto-commit in {@code poll()}, the
 * commit before a rebalance and in {@code close()}; every classic commit request and its
 * outcome pass through {@code sendOffsetCommitRequest}), and the consumer protocol's commit
 * manager, which commits in the client's background thread.
 */
public final class ClientInternalsAdvice {
    private ClientInternalsAdvice() {}

    /** {@code ConsumerCoordinator.sendOffsetCommitRequest(Map)}: the claim before the request, its outcome after. */
    public static final class ClassicCommitRequest {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static Object enter(@Advice.FieldValue("subscriptions") Object subscriptions,
                            @Advice.Argument(0) Map<?, ?> offsets) {
            return Hooks.classicCommit(subscriptions, offsets);
        }

        @SuppressWarnings({"unchecked", "rawtypes"})
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.Enter Object pending, @Advice.Return RequestFuture<?> future) {
            if (pending != null && future != null) {
                future.addListener((RequestFutureListener) Proxy.newProxyInstance(
                        RequestFutureListener.class.getClassLoader(),
                        new Class<?>[] {RequestFutureListener.class}, Hooks.outcome(pending)));
            }
        }
    }

    /** {@code ConsumerCoordinator.onJoinPrepare}: its commit is the one before a rebalance. */
    public static final class JoinPrepare {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static Object enter() {
            return Hooks.howEnter("rebalance");
        }

        @Advice.OnMethodExit(onThrowable = Throwable.class, suppress = Throwable.class)
        static void exit(@Advice.Enter Object token) {
            Hooks.commitExit(token);
        }
    }

    /** {@code CommitRequestManager.commitSync / commitAsync(Map, …)}: an explicit commit's outcome. */
    public static final class BackgroundCommit {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.FieldValue("subscriptions") Object subscriptions,
                         @Advice.Argument(0) Map<?, ?> offsets, @Advice.Return CompletableFuture<?> future) {
            Hooks.backgroundOutcome(subscriptions, offsets, future);
        }
    }

    /** {@code CommitRequestManager.autoCommitCallback(Map)}: the auto-commit's outcome. */
    public static final class AutoCommitCallback {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.FieldValue("subscriptions") Object subscriptions,
                         @Advice.Argument(0) Map<?, ?> offsets,
                         @Advice.Return(readOnly = false, typing = Assigner.Typing.DYNAMIC) Object callback) {
            callback = Hooks.autoCommitCallback(subscriptions, offsets, callback);
        }
    }

    /** {@code CommitRequestManager.maybeAutoCommitSyncBeforeRebalance(long)}: the auto-commit before a revocation. */
    public static final class BeforeRebalance {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.FieldValue("subscriptions") SubscriptionState subscriptions,
                         @Advice.Return CompletableFuture<?> future) {
            Hooks.beforeRebalanceOutcome(subscriptions, subscriptions.allConsumed(), future);
        }
    }
}
