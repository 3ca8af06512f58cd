"""``python -m riverbed.platforms.kube``: print rendered manifests or a dry-run plan."""

from __future__ import annotations

import argparse
import sys

from riverbed.errors import HarnessError
from riverbed.platforms.kube import render as km
from riverbed.platforms.kube.cluster import MODES, KubePlatform
from riverbed.platforms.kube.commands import describe
from riverbed.platforms.kube.images import LOCUST_IMAGE, WORKLOADS_IMAGE


def main(argv: list[str] | None = None) -> int:
    """Print rendered manifests or a dry-run plan (nothing is run)."""
    parser = argparse.ArgumentParser(
        prog="python -m riverbed.platforms.kube",
        description="Show what the kind / k8s platform would apply and run. Nothing is executed.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render", help="print the manifests as riverbed applies them")
    render.add_argument("--tag", default="dev", help="workload image tag (default: dev)")
    render.add_argument("--locust", action="store_true", help="include locust.yaml")
    role = sub.add_parser(
        "user-role",
        help="print the Role (and RoleBinding) a user needs to run riverbed in one namespace",
    )
    role.add_argument("--namespace", default="riverbed", help="the namespace (default: riverbed)")
    role.add_argument(
        "--subject",
        default="User:riverbed-user",
        help="who gets it: User:NAME, Group:NAME or ServiceAccount:NS/NAME",
    )
    role.add_argument(
        "--user-kafka",
        action="store_true",
        help="for runs on your own Kafka (--kafka-bootstrap): the Kafka client Secret and the "
        "pod that checks the pods' route, besides the rest",
    )
    plan = sub.add_parser("plan", help="print the commands `up` or `down` would run")
    plan.add_argument("action", choices=["up", "down"])
    plan.add_argument("--mode", choices=MODES, default="kind")
    plan.add_argument("--context", help="kubeconfig context (k8s mode)")
    plan.add_argument("--tag", default="TAG", help="workload image tag (default: TAG)")
    args = parser.parse_args(argv)
    try:
        if args.command == "user-role":
            from riverbed.platforms.kube import access

            platform = KubePlatform(mode="k8s", context="-", dry_run=True, namespace=args.namespace)
            docs = km.flatten(
                platform.render(
                    locust_image="riverbed-locust:x", netfault_image="riverbed-netfault:x"
                )
            )
            if args.user_kafka:
                from riverbed.platforms.kube import user_kafka as uk

                kafka = uk.UserKafka("kafka:9092", "kafka:9092")
                docs += [
                    uk.secret_doc(args.namespace, {}),
                    uk.probe_pod(args.namespace, "x", kafka),
                ]
            sys.stdout.write(km.dump(access.user_role(args.namespace, docs, args.subject)))
            return 0
        if args.command == "render":
            platform = KubePlatform(dry_run=True)
            locust = f"{LOCUST_IMAGE}:{args.tag}" if args.locust else None
            docs = km.flatten(platform.render(f"{WORKLOADS_IMAGE}:{args.tag}", locust_image=locust))
            sys.stdout.write(km.dump(docs))
            return 0
        platform = KubePlatform(mode=args.mode, context=args.context, dry_run=True)
        if args.action == "up":
            platform.up(tag=args.tag)
        else:
            platform.down()
        for step in platform.runner.steps:
            print(describe(step))
        return 0
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
